"""Draw spectrogram pictures of the synth: one PNG per voice, one gecko call up close and the whole
default bed (docs/sound.md shows them).

Example:
  postcards spectrogram --out docs/assets --seconds 12
"""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="docs/assets", help="folder for the PNGs (default: docs/assets)")
    parser.add_argument("--seconds", type=float, default=12.0, help="length of each picture (default 12)")
    parser.add_argument("--seed", type=int, default=1, help="the voices' seed (default 1)")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from engine.settings.scenes import DEFAULT_LAYERS, LayerSettings
    from engine.sound.spectrogram import draw
    from engine.sound.synth import JungleBed
    from engine.sound.voices import SYNTH_VOICES, make_voice

    out, rate = Path(args.out), 48000
    out.mkdir(parents=True, exist_ok=True)
    frames = round(args.seconds * rate)
    for name in SYNTH_VOICES:
        layer = LayerSettings(source=name, distance=0.2)
        audio = make_voice(layer, rate, args.seed).render(frames)
        draw(audio.mean(axis=1), rate, f"{name}  (density 1, pitch 1, distance 0.2)").save(out / f"sound-{name}.png")
    # A closer look at one gecko call: each chirp is a fast sweep upwards.
    geckos = make_voice(LayerSettings(source="geckos", density=3.0, distance=0.0), rate, args.seed).render(20 * rate)
    first = max(0, int(np.argmax(np.abs(geckos[:, 0]) > 0.05)) - rate // 20)
    call = geckos[first:first + rate].mean(axis=1)
    picture = draw(call, rate, "geckos, one call up close (1 s, 5 ms windows)", window_s=0.005)
    picture.save(out / "sound-geckos-call.png")
    bed = JungleBed(DEFAULT_LAYERS, rate, args.seed).render(frames)
    draw(bed.mean(axis=1), rate, "the whole default bed (six voices)").save(out / "sound-bed.png")
    print(f"wrote {len(SYNTH_VOICES) + 2} spectrograms to {out}")
    return 0
