"""Streaming DSP parts of the synth: the event ring, filters with kept state, reverb, distance."""

from __future__ import annotations

import numpy as np
from scipy import signal

from engine.sound.dsp import Distance, EventRing, Filter, Reverb, lowpass, pan, ring_slices, widen

RATE = 48000


def test_ring_slices_wrap_once():
    assert ring_slices(8, 4, 10) == [(slice(8, 10), slice(0, 2)), (slice(0, 2), slice(2, 4))]
    assert ring_slices(13, 3, 10) == [(slice(3, 6), slice(0, 3))]


def test_event_ring_places_sounds_at_their_sample_across_reads_and_wraps():
    ring = EventRing(capacity=128)
    out = []
    for block in range(10):
        if block == 3:
            ring.add(ring.position + 50, np.ones((70, 2), np.float32))  # wraps round the ring
        out.append(ring.read(30))
    out = np.concatenate(out)[:, 0]
    expected = np.zeros(300)
    expected[140:210] = 1.0
    np.testing.assert_array_equal(out, expected)


def test_event_ring_truncates_what_would_not_fit_instead_of_overwriting():
    ring = EventRing(capacity=50)
    ring.add(10, np.ones((100, 2), np.float32))
    assert ring.read(50)[:, 0].sum() == 40
    assert ring.read(50).sum() == 0


def test_filter_in_chunks_equals_one_pass():
    x = np.random.default_rng(0).standard_normal((10000, 2)).astype(np.float32)
    ba = lowpass(1000, RATE)
    f = Filter(ba)
    chunks = np.concatenate([f(x[i:i + 777]) for i in range(0, len(x), 777)])
    np.testing.assert_allclose(chunks, signal.lfilter(*ba, x, axis=0), atol=1e-5)


def test_pan_is_equal_power_and_widen_sets_correlation():
    mono = np.ones(4, np.float32)
    for position in (-1.0, -0.3, 0.0, 0.8):
        lr = pan(mono, position)
        np.testing.assert_allclose((lr ** 2).sum(axis=1), 1.0, rtol=1e-6)
    assert pan(mono, -1.0)[0, 1] < 1e-7
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(100000), rng.standard_normal(100000)
    assert np.corrcoef(*widen(a, b, 0.0).T)[0, 1] > 0.999
    assert abs(np.corrcoef(*widen(a, b, 1.0).T)[0, 1]) < 0.02


def test_reverb_tail_is_continuous_and_decays_by_60_db_in_its_decay_time():
    chunk = 4096
    reverb = Reverb(RATE, chunk, decay_s=1.0)
    x = np.zeros((4 * RATE, 2), np.float32)
    x[:960] = np.random.default_rng(0).standard_normal((960, 1))  # 20 ms of noise: the shortest voice sounds
    tail = np.concatenate([reverb(x[i:i + chunk]) for i in range(0, len(x), chunk)])[:, 0]
    energy = [np.mean(tail[round(t * RATE):round((t + 0.1) * RATE)] ** 2) for t in (0.2, 1.2)]
    drop_db = 10 * np.log10(energy[0] / energy[1])
    assert 45 < drop_db < 75
    windows = 10 * np.log10((tail[round(0.2 * RATE):RATE].reshape(-1, 240) ** 2).mean(axis=1))
    around = signal.medfilt(windows, 21)  # the level of the decaying tail around each 5 ms window
    assert (windows - around).min() > -15  # no gaps between echoes once it has built up


def test_distance_darkens_and_lowers_the_level():
    near, far = Distance(0.0, RATE, 4096), Distance(1.0, RATE, 4096)
    assert far.dry < 0.5 * near.dry and near.reverb is None and far.reverb is not None
    click = np.zeros(1000, np.float32)
    click[0] = 1.0
    f, near_response = signal.freqz(near.darken(click), worN=2048, fs=RATE)
    _, far_response = signal.freqz(far.darken(click), worN=2048, fs=RATE)
    at_8k = np.argmin(np.abs(f - 8000))
    assert abs(far_response[at_8k]) < 0.1 < 0.9 < abs(near_response[at_8k])
