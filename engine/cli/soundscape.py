"""Write jungle soundscape WAVs: the embedded synth (no weights needed) or Stable Audio through diffusers.

The synth renders a scene's synth layers (default: all six voices); variation i uses seed + i. Stable Audio
renders the prompt (default: the artist's) with a local model folder or the Hugging Face cache; its
44.1 kHz output is resampled to the engine's rate unless --rate model. --loop makes each file a seamless loop.

Examples:
  postcards soundscape --n 4 --seconds 30 --out soundscapes/
  postcards soundscape --scene night --seconds 60 --loop --out soundscapes/
  postcards soundscape --backend stable-audio --model ~/models/stable-audio-open-1.0 --loop --out loops/
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from engine.errors import UserError
from engine.sound.stable_audio import ARTIST_PROMPT

BACKENDS = ("synth", "stable-audio")
log = logging.getLogger("postcards.soundscape")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the WAV files (made if missing)")
    parser.add_argument("--backend", default="synth", choices=BACKENDS,
                        help="synth: the embedded generator (default); stable-audio: a diffusers Stable Audio model")
    parser.add_argument("--n", type=int, default=4, help="how many files (default 4)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each file (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="first seed; file i uses seed + i")
    parser.add_argument("--loop", action="store_true", help="make each file a seamless loop (a little shorter)")
    parser.add_argument("--crossfade", type=float, default=1.0, help="loop crossfade in seconds (default 1)")
    parser.add_argument("--rate", default="", help="sample rate in Hz, or 'model' for the model's own "
                        "(default: audio.samplerate of the settings, 48000)")
    synth = parser.add_argument_group("synth")
    synth.add_argument("--scene", default="", help="take the synth layers of this scene (default: all six voices)")
    sa = parser.add_argument_group("stable-audio")
    sa.add_argument("--prompt", default=ARTIST_PROMPT, help="text prompt (default: the artist's jungle prompt)")
    sa.add_argument("--negative-prompt", default="Low quality.", help="what to steer away from")
    sa.add_argument("--model", default="stabilityai/stable-audio-open-1.0",
                    help="model folder, or a repo id already in the Hugging Face cache (never downloaded)")
    sa.add_argument("--steps", type=int, default=100, help="denoising steps (default 100)")
    sa.add_argument("--guidance", type=float, default=7.0, help="classifier-free guidance scale (default 7)")
    sa.add_argument("--device", default="auto", help="torch device: auto (GPU when present), cpu, cuda, mps")


def run(args: argparse.Namespace) -> int:
    if not args.seconds > 0:
        raise UserError(f"--seconds: expected more than 0, found {args.seconds:g}")
    if args.n < 1:
        raise UserError(f"--n: expected at least 1, found {args.n}")
    if args.loop and not 0 < 3 * args.crossfade <= args.seconds:
        raise UserError(f"--crossfade: expected more than 0 and at most a third of --seconds for --loop, "
                        f"found {args.crossfade:g} with --seconds {args.seconds:g}")
    out = writable_folder(Path(args.out))
    if args.backend == "synth":
        rate = engine_rate(args, model_rate=None)
        clips, made_by = synth_clips(args, rate), f"the embedded synth (scene {args.scene or 'default'})"
    else:
        clips, rate, made_by = stable_audio_clips(args)
    written = []
    for i, audio in enumerate(clips):
        if args.loop:
            from engine.sound.loops import make_loop

            audio = make_loop(audio, rate, crossfade_s=args.crossfade)
        path = out / f"jungle-{args.backend}-{args.seed + i:04d}{'-loop' if args.loop else ''}.wav"
        write_wav(path, audio, rate, comment=f"made by {made_by}, seed {args.seed + i}")
        written.append(path)
    print(f"{len(written)} WAV files ({rate} Hz) made by {made_by} in {out}:")
    for path in written:
        print(f"  {path.name}")
    return 0


def writable_folder(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--out {folder}: expected a folder that can be made, found: {e.strerror}") from None
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"--out {folder}: expected a writable folder, found one this user cannot write to")
    return folder


def engine_rate(args: argparse.Namespace, model_rate: int | None) -> int:
    """The rate to write: --rate, 'model', or the settings' audio rate."""
    if args.rate == "model":
        if model_rate is None:
            raise UserError("--rate: 'model' needs --backend stable-audio (the synth renders at any rate)")
        return model_rate
    if not args.rate:
        return args.settings.audio.samplerate
    if not args.rate.isdigit() or not 8000 <= int(args.rate) <= 192000:
        raise UserError(f"--rate: expected a sample rate in Hz (8000..192000) or 'model', found {args.rate!r}")
    return int(args.rate)


def synth_clips(args: argparse.Namespace, rate: int):
    """One rendered bed per file, rendered in one-second blocks (as it streams live) with progress."""
    import numpy as np
    from tqdm import tqdm

    from engine.sound.synth import JungleBed

    layers = scene_layers(args)
    frames = round(args.seconds * rate)
    for i in range(args.n):
        bed = JungleBed(layers, rate, args.seed + i)
        blocks = [bed.render(min(rate, frames - at))
                  for at in tqdm(range(0, frames, rate), desc=f"synth {i + 1}/{args.n}", unit="s", leave=False)]
        yield np.concatenate(blocks)


def scene_layers(args: argparse.Namespace) -> dict:
    from engine.paths import UnsafeNameError
    from engine.settings.scenes import DEFAULT_LAYERS, load_scene, scene_path
    from engine.sound.voices import SYNTH_VOICES

    if not args.scene:
        return DEFAULT_LAYERS
    try:
        scene = load_scene(scene_path(args.settings.path("scenes"), args.scene))
    except UnsafeNameError as e:
        raise UserError(f"--scene: {e}") from None
    layers = {name: layer for name, layer in scene.sound.layers.items() if layer.source in SYNTH_VOICES}
    skipped = sorted(set(scene.sound.layers) - set(layers))
    if skipped:
        log.warning("scene %s: layers %s are not synth voices; left out", args.scene, ", ".join(skipped))
    if not layers:
        raise UserError(f"--scene {args.scene}: expected at least one synth layer, found none")
    return layers


def stable_audio_clips(args: argparse.Namespace):
    from tqdm import tqdm

    from engine.sound.stable_audio import generate, load_stable_audio, model_rate, resample

    pipe = load_stable_audio(args.model, device=args.device)
    native = model_rate(pipe)
    rate = engine_rate(args, model_rate=native)
    clips = []
    for i in tqdm(range(args.n), desc="stable-audio", unit="file"):
        (clip,) = generate(pipe, args.prompt, args.negative_prompt, seconds=args.seconds, steps=args.steps,
                           guidance=args.guidance, seed=args.seed + i, n=1)
        clips.append(resample(clip, native, rate))
    return clips, rate, f"Stable Audio ({type(pipe).__name__}, {args.model})"


def write_wav(path: Path, audio, rate: int, comment: str) -> None:
    """24-bit WAV; a rare peak over full scale is turned down rather than clipped."""
    import numpy as np
    import soundfile

    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if peak > 0.99:
        log.info("%s: peak %.2f turned down to 0.99", path.name, peak)
        audio = audio * (0.99 / peak)
    try:
        with soundfile.SoundFile(path, "w", rate, 2, subtype="PCM_24", format="WAV") as f:
            f.comment = comment
            f.software = "postcards soundscape"
            f.write(audio)
    except (OSError, RuntimeError) as e:  # soundfile reports a failed open as RuntimeError (LibsndfileError)
        raise UserError(f"{path}: expected to write a WAV file there, could not: {e}") from None
