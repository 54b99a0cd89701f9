"""Spectrogram pictures of sound (numpy + Pillow; no matplotlib), to look at what the synth makes
(`postcards spectrogram` draws the ones docs/sound.md shows)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw
from scipy import signal

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
