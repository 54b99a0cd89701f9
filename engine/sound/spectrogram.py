"""Spectrogram pictures of sound (numpy + Pillow; no matplotlib), to look at what the synth makes.

    python -m engine.sound.spectrogram --out docs/assets --seconds 12

draws one PNG per synth voice and one of the whole default bed (docs/sound.md shows them).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import signal

from engine.scenes import SYNTH_VOICES, LayerSettings

MAX_HZ = 12000.0
FLOOR_DB = -90.0


def spectrogram_db(mono: np.ndarray, samplerate: int,
                   window_s: float = 0.02) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frequencies Hz, times s, power dB (freq, time)) of a mono signal; 0 dB = a full-scale sine."""
    n = 1 << int(np.ceil(np.log2(window_s * samplerate)))
    freqs, times, z = signal.stft(mono, samplerate, nperseg=n, noverlap=n * 3 // 4, boundary=None)
    power = np.abs(z) * 2  # stft scales by the window sum: a full-scale sine peaks near 1
    return freqs, times, 20 * np.log10(np.maximum(power, 10 ** (FLOOR_DB / 20)))


def draw(mono: np.ndarray, samplerate: int, title: str, size: tuple[int, int] = (900, 300),
         window_s: float = 0.02) -> Image.Image:
    """A labelled spectrogram: time across, frequency (linear, 0..12 kHz) up, loudness as brightness."""
    freqs, times, db = spectrogram_db(mono, samplerate, window_s)
    db = db[freqs <= MAX_HZ]
    level = np.clip((db - FLOOR_DB) / -FLOOR_DB, 0, 1)[::-1]  # low frequencies at the bottom
    colours = np.stack([level ** 0.7, level ** 1.6, 0.35 * level ** 3 + 0.15 * (1 - level)], axis=-1)
    plot = Image.fromarray((colours * 255).astype(np.uint8)).resize(size, Image.BILINEAR)
    left, top, bottom = 60, 24, 28
    image = Image.new("RGB", (size[0] + left + 10, size[1] + top + bottom), "white")
    image.paste(plot, (left, top))
    pen = ImageDraw.Draw(image)
    pen.text((left, 6), f"{title}  (dB: black {FLOOR_DB:.0f}, bright 0)", fill="black")
    for khz in range(0, int(MAX_HZ / 1000) + 1, 2):
        y = top + size[1] - round(khz * 1000 / MAX_HZ * size[1])
        pen.line([(left - 5, y), (left, y)], fill="black")
        pen.text((4, y - 6), f"{khz} kHz", fill="black")
    seconds = len(mono) / samplerate
    tick = 0.1 if seconds < 3 else max(1, int(seconds) // 10)
    for t in np.arange(0, seconds + 1e-9, tick):
        x = left + round(t / seconds * size[0])
        pen.line([(x, top + size[1]), (x, top + size[1] + 5)], fill="black")
        pen.text((x - 6, top + size[1] + 8), f"{t:g} s", fill="black")
    return image


def main(argv: list[str] | None = None) -> int:
    from engine.sound.synth import DEFAULT_LAYERS, JungleBed
    from engine.sound.voices import make_voice

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="docs/assets", help="folder for the PNGs")
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    raise SystemExit(main())
