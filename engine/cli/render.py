"""Render a scene offline to an MP4 with sound: the same scene logic as `postcards perform`, on a virtual
clock (exactly 1/fps per frame) with the sound rendered in step, sample-accurate. Nothing waits for a
real clock, so it runs faster than real time where the machine allows, and the same seed gives the same
frames and the same samples. Postcards are painted inline, each one when the show asks for it.

Cues play Commands at show times, as a performer would over OSC: `--cue "T ADDRESS [VALUE ...]"`.

Examples:
  postcards render --scene dawn --duration 60 --out dawn.mp4
  postcards render --scene night --duration 30 --out night.mp4 --size 1920x1080 --fps 30 --seed 7 \\
      --record-audio night.wav --cue "10 /visual/next" --cue "20 /scene/load rain"
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from engine.show.controls import Command
from engine.errors import UserError
from engine.cli.args import parse_size, seconds  # the same argument types as `postcards perform`


@dataclass(frozen=True)
class Cue:
    at: float
    command: Command


def parse_cue(text: str) -> Cue:
    """'T ADDRESS [VALUE ...]': VALUEs are numbers where they read as numbers, text otherwise."""
    words = text.split()
    try:
        at = float(words[0])
    except (IndexError, ValueError):
        at = -1.0
    if len(words) < 2 or not at >= 0 or not words[1].startswith("/"):
        raise argparse.ArgumentTypeError(f"expected 'SECONDS /address [value ...]' (e.g. '12.5 /visual/next'), "
                                         f"found {text!r}")
    return Cue(at, Command(words[1], tuple(_value(w) for w in words[2:]), source="cue"))


def _value(word: str):
    for kind in (int, float):
        try:
            return kind(word)
        except ValueError:
            pass
    return word


def _fps(text: str) -> int:
    if not (text.isdigit() and 1 <= int(text) <= 120):
        raise argparse.ArgumentTypeError(f"expected frames per second from 1 to 120, found {text!r}")
    return int(text)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scene", help="scene name (default: show.scene in config.toml)")
    parser.add_argument("--duration", type=seconds, required=True, metavar="S", help="seconds of show")
    parser.add_argument("--out", required=True, metavar="FILE", help="the MP4 to write")
    parser.add_argument("--size", type=parse_size, metavar="WxH", help="video size (default: recording.size)")
    parser.add_argument("--fps", type=_fps, metavar="F", help="frames per second, 1..120 (default: recording.fps)")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="first postcard seed and the sound's seed (default 0): the same seed, the same file")
    parser.add_argument("--record-audio", metavar="FILE.wav", help="also write the mixed sound alone to a WAV")
    parser.add_argument("--cue", type=parse_cue, action="append", default=[], metavar='"T ADDRESS [VALUE...]"',
                        help="send a Command at show time T (seconds); repeatable")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    config = args.settings
    size = args.size or config.recording.size
    fps = args.fps or config.recording.fps
    out = Path(args.out)
    if out.suffix.lower() != ".mp4":
        raise UserError(f"--out: expected a file name ending in .mp4, found {args.out!r}")
    if args.record_audio and Path(args.record_audio).suffix.lower() != ".wav":
        raise UserError(f"--record-audio: expected a file name ending in .wav, found {args.record_audio!r}")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # no window: frames go to the file
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    from engine.perform.offline import render_show

    result = render_show(config, scene=args.scene, duration=args.duration, out=out, size=size, fps=fps,
                         seed=args.seed, cues=args.cue, audio_path=args.record_audio,
                         progress=not args.no_progress)
    stats = result.recording
    if stats.error is not None:
        print(f"postcards render: {stats.error}", file=sys.stderr)
        return 1
    print(f"{out}: {stats.frames} frames, {stats.seconds:.2f} s of video and {stats.audio_seconds:.2f} s of sound "
          f"in {result.wall_seconds:.1f} s ({result.speed:.2f}x real time; of which drawing "
          f"{result.draw_seconds:.1f} s, {result.postcards} postcards painted included, and sound "
          f"{result.sound_seconds:.1f} s)")
    return 0
