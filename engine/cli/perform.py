"""Run the live show: postcards painted by the scene's model crossfade in a window while the jungle plays.

Keys: space next postcard, s next scene, f fullscreen, m mute, o status, r record, esc quit. OSC, OSCQuery
and MIDI start as config.toml says. Scene files are reloaded when they change; a schedule in
config.toml ([show.schedule]) changes scenes by time of day.

Examples:
  postcards perform --scene night
  postcards perform --fullscreen --display 1
  postcards perform --headless --duration 60       (no window: servers, tests)
  postcards perform --demo                         (what `make demo` runs)
"""

from __future__ import annotations

import argparse
import os
import signal
from dataclasses import replace
from pathlib import Path

from engine.cli.args import parse_size, seconds
from engine.errors import UserError
from engine.settings.config import Config
from engine.show.controls import Command

DEMO_SECONDS = 30.0


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scene", help="scene to start with (default: the schedule's, else show.scene)")
    parser.add_argument("--fullscreen", action="store_true", help="open fullscreen (display.fullscreen)")
    parser.add_argument("--display", type=int, metavar="N", help="monitor for fullscreen, 0 = first (display.display)")
    parser.add_argument("--size", type=parse_size, metavar="WxH", help="window size (display.size)")
    parser.add_argument("--headless", action="store_true", help="no window: SDL's dummy driver (display.headless)")
    parser.add_argument("--duration", type=seconds, metavar="S", help="stop after S seconds")
    parser.add_argument("--demo", action="store_true",
                        help="the default scene and model; without a display: 30 s headless, recorded to demo.mp4")
    parser.add_argument("--record", metavar="FILE.mp4",
                        help="record the show to this MP4 from the start (key r, /record/start and /record/stop "
                             "start and stop recordings into paths.recordings at any time)")
    parser.add_argument("--record-audio", metavar="FILE.wav", help="write the mixed sound alone to this WAV")


def settings_from_args(config: Config, args: argparse.Namespace) -> Config:
    display = config.display
    display = replace(display, fullscreen=args.fullscreen or display.fullscreen,
                      display=display.display if args.display is None else args.display,
                      size=args.size or display.size, headless=args.headless or display.headless)
    return replace(config, display=display)


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run(args: argparse.Namespace) -> int:
    config = settings_from_args(args.settings, args)
    duration, record_to = args.duration, (Path(args.record) if args.record else None)
    if args.demo:
        config = demo_settings(config)
        if not has_display() and not config.display.headless:
            config = replace(config, display=replace(config.display, headless=True))
            duration = duration or DEMO_SECONDS
            record_to = Path(config.root) / "demo.mp4"
            print(f"No display here ($DISPLAY and $WAYLAND_DISPLAY are unset): the demo runs headless for "
                  f"{duration:g} s and records the show to {record_to}")
            from engine.mix.stream import NO_SPEAKERS, has_output

            if config.audio.enabled and not has_output():
                config = replace(config, audio=replace(config.audio, device=NO_SPEAKERS))
                print("No sound output here either: the synth plays into the recording only")
    if args.display is not None and args.display < 0:
        raise UserError(f"--display: expected a monitor number 0 or more, found {args.display}")
    from engine.perform.live import Live

    live = Live(config, args.scene, record_audio=args.record_audio)
    live.start()
    # A service manager stops us with SIGTERM: end like esc does, so recordings are finished and workers end.
    before = signal.signal(signal.SIGTERM, lambda *_: live.show.submit(Command("/show/quit", (), "SIGTERM")))
    try:
        if record_to is not None:
            live.record(record_to)
        live.run(duration)
    finally:
        signal.signal(signal.SIGTERM, before)
        recording = live.recording  # stop() lets it go once every file is finished
        live.stop()
    if record_to is not None:
        cut = recording.outcome(record_to) if recording is not None else "it never started"
        print(f"Recorded the show to {record_to}" if cut is None else f"The recording {record_to} stopped early: {cut}")
    return 0


def demo_settings(config: Config) -> Config:
    """The demo plays the default scene on the model the project ships (models/default)."""
    from engine.postcards.store import list_models

    models = config.path("models")
    if "default" not in list_models(models):
        raise UserError(f"--demo: expected the shipped model in {models / 'default'}, found none. Train one "
                        f"(`postcards train`, see docs/) or pick a model folder in a scene's visual.model and run "
                        f"`postcards perform --scene NAME`")
    return config


