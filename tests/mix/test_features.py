"""Features of the mix: level, bands, onsets, attack/release, and the same values whatever the block size."""

from __future__ import annotations

import numpy as np
import pytest

from engine.mix.features import HOP, Features

RATE = 48000


def tone(freq, seconds=0.5, amplitude=1.0):
    t = np.arange(int(RATE * seconds)) / RATE
    x = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([x, x], axis=1)


def clicks(count, every=0.25, seconds=None):
    """Short noise bursts on silence: clear onsets."""
    rng = np.random.default_rng(1)
    x = np.zeros(int(RATE * (seconds or count * every)), np.float32)
    for k in range(count):
        at = int(k * every * RATE)
        x[at:at + 2400] += rng.standard_normal(2400).astype(np.float32) * 0.5 * np.exp(-np.arange(2400) / 300)
    return np.stack([x, x], axis=1)


@pytest.mark.parametrize("freq, band", [(100, "low"), (1000, "mid"), (8000, "high")])
def test_a_tone_fills_its_band_and_reads_full_level(freq, band):
    features = Features(RATE)
    features.feed(tone(freq))
    values = features.snapshot()
    assert values["level"] == pytest.approx(1.0, abs=0.02)
    assert values[band] > 0.95
    assert all(values[other] < 0.3 for other in ("low", "mid", "high") if other != band)


def test_level_follows_loudness_in_db():
    quiet, loud = Features(RATE), Features(RATE)
    quiet.feed(tone(1000, amplitude=0.01))   # -40 dB
    loud.feed(tone(1000, amplitude=0.1))     # -20 dB
    assert quiet.values["level"] == pytest.approx(1 / 3, abs=0.02)
    assert loud.values["level"] == pytest.approx(2 / 3, abs=0.02)


def test_every_click_is_an_onset_and_steady_noise_has_few():
    features, onsets = Features(RATE), 0
    sound = clicks(20)
    for i in range(0, len(sound), HOP):
        features.feed(sound[i:i + HOP])
        onsets += features.values["onset"] == 1.0
    assert onsets == 20
    noise = np.random.default_rng(0).standard_normal((RATE * 5, 2)).astype(np.float32) * 0.1
    features, onsets = Features(RATE), 0
    for i in range(0, len(noise), HOP):
        features.feed(noise[i:i + HOP])
        onsets += features.values["onset"] == 1.0
    assert onsets <= 3


def test_attack_is_quick_and_release_slow():
    features = Features(RATE, attack=0.01, release=0.5)
    features.feed(tone(1000, seconds=0.05))
    assert features.values["level"] > 0.95                # 50 ms: five attack times
    features.feed(np.zeros((int(RATE * 0.25), 2), np.float32))
    assert 0.4 < features.values["level"] < 0.8           # 250 ms of silence: half a release time


def test_the_block_size_does_not_change_the_values():
    sound = clicks(8, seconds=2.3) + tone(300, seconds=2.3, amplitude=0.05)
    readings = []
    for block in (512, 1600, 1837, 4096):
        features = Features(RATE)
        for i in range(0, len(sound), block):
            features.feed(sound[i:i + block])
        readings.append(features.snapshot())
    assert all(r == readings[0] for r in readings)
