"""Spectrogram pictures: a known tone lands where the axis says."""

from __future__ import annotations

import numpy as np

from engine.sound.spectrogram import MAX_HZ, draw, spectrogram_db

RATE = 48000


def test_a_full_scale_sine_is_near_0_db_at_its_frequency():
    t = np.arange(RATE) / RATE
    freqs, _, db = spectrogram_db(np.sin(2 * np.pi * 3000 * t), RATE)
    row = db.mean(axis=1)
    assert abs(freqs[np.argmax(row)] - 3000) < 50
    assert -3 < row.max() < 1


def test_picture_shows_the_tone_at_its_height_with_labels(tmp_path):
    t = np.arange(2 * RATE) / RATE
    image = draw(0.5 * np.sin(2 * np.pi * 6000 * t), RATE, "a 6 kHz tone", size=(400, 240))
    path = tmp_path / "tone.png"
    image.save(path)
    assert path.stat().st_size > 1000
    left, top = 60, 24
    column = np.asarray(image.convert("L"))[top:top + 240, left + 200]
    brightest = int(np.argmax(column))
    expected = 240 - 6000 / MAX_HZ * 240
    assert abs(brightest - expected) < 6
