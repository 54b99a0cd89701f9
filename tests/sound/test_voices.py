"""The synth voices: endless, seamless, seeded streams, and each one sounds like what its name says."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from engine.errors import UserError
from engine.settings.scenes import LayerSettings
from engine.sound.voices import SYNTH_VOICES
from engine.sound.voices import make_voice

RATE = 48000


def render(source: str, seconds: float, rate: int = RATE, seed: int = 3, **settings) -> np.ndarray:
    return make_voice(LayerSettings(source=source, **settings), rate, seed).render(round(seconds * rate))


def envelope(mono: np.ndarray, rate: int, window_s: float) -> np.ndarray:
    """RMS in consecutive windows."""
    n = round(window_s * rate)
    frames = mono[:len(mono) // n * n].reshape(-1, n)
    return np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1))


@pytest.mark.parametrize("source", SYNTH_VOICES)
def test_every_voice_is_stereo_float32_audible_and_not_too_loud(source):
    audio = render(source, 30)
    assert audio.dtype == np.float32 and audio.shape == (30 * RATE, 2)
    assert np.isfinite(audio).all()
    peak = np.abs(audio).max()
    assert 0.05 < peak < 1.0, f"{source}: peak {peak:.3f}"


@pytest.mark.parametrize("source", SYNTH_VOICES)
def test_blocks_of_any_size_give_the_same_samples_as_one_long_render(source):
    whole = render(source, 6)
    voice = make_voice(LayerSettings(source=source), RATE, 3)
    sizes = np.random.default_rng(0).integers(1, 9000, 400)
    parts, done = [], 0
    for size in sizes:
        size = min(int(size), len(whole) - done)
        parts.append(voice.render(size))
        done += size
        if done == len(whole):
            break
    assert all(part.dtype == np.float32 and part.shape[1] == 2 for part in parts)
    assert np.array_equal(np.concatenate(parts), whole)


@pytest.mark.parametrize("source", SYNTH_VOICES)
def test_same_seed_same_sound_other_seed_other_sound(source):
    a, b, c = render(source, 12, seed=1), render(source, 12, seed=1), render(source, 12, seed=2)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_memory_stays_constant_over_many_blocks():
    voice = make_voice(LayerSettings(source="birds"), RATE, 0)
    voice.render(512)
    sizes = (voice.ring.buffer.nbytes, len(voice._left))
    for _ in range(2000):  # ~21 s in 512-frame blocks
        voice.render(512)
    assert voice.ring.buffer.nbytes == sizes[0]
    assert len(voice._left) < voice.chunk


def test_density_changes_between_blocks_and_zero_falls_silent():
    voice = make_voice(LayerSettings(source="geckos", density=4.0, distance=0.0), RATE, 5)
    busy = voice.render(20 * RATE)
    voice.density = 0.0
    voice.render(3 * RATE)  # the last events and their tails die away
    quiet = voice.render(10 * RATE)
    assert np.abs(busy).max() > 0.1
    assert np.abs(quiet).max() == 0.0
    voice.density = 4.0
    assert np.abs(voice.render(20 * RATE)).max() > 0.1


@pytest.mark.parametrize("source", SYNTH_VOICES)
def test_wild_density_values_are_clamped_or_ignored_never_break_the_sound(source):
    voice = make_voice(LayerSettings(source=source, density=2.0), RATE, 0)
    for value in (float("nan"), float("inf"), -5.0, 1e9):
        voice.density = value
        assert np.isfinite(voice.render(RATE)).all()
    assert voice.density == 10.0  # nan and inf ignored, -5 clamped to 0, 1e9 to 10


@pytest.mark.parametrize("source", ["owls", "frogs"])
def test_raising_density_live_is_heard_soon_not_after_a_wait_drawn_at_the_old_density(source):
    voice = make_voice(LayerSettings(source=source, density=0.01, distance=0.0), RATE, 2)
    assert np.abs(voice.render(5 * RATE)).max() == 0.0  # the first event is minutes away at density 0.01
    voice.density = 10.0
    assert np.abs(voice.render(10 * RATE)).max() > 0.1


def test_more_density_means_more_events():
    sparse = render("birds", 30, density=0.5, distance=0.0)
    dense = render("birds", 30, density=4.0, distance=0.0)
    active = [(envelope(x.mean(axis=1), RATE, 0.05) > 0.01).mean() for x in (sparse, dense)]
    assert active[1] > 2 * active[0]


@pytest.mark.parametrize("rate", [8000, 22050, 96000])
def test_any_sample_rate(rate):
    for source in SYNTH_VOICES:
        audio = render(source, 8, rate=rate, density=3.0)
        assert audio.shape == (8 * rate, 2) and np.isfinite(audio).all() and np.abs(audio).max() < 1.5


def test_unknown_voice_is_a_clear_error():
    with pytest.raises(UserError, match="expected a synth voice.*found 'tiger'"):
        make_voice(LayerSettings(source="tiger"), RATE, 0)
    with pytest.raises(UserError, match="sample rate: expected at least 8000 Hz, found 4000"):
        make_voice(LayerSettings(source="birds"), 4000, 0)


def test_pitch_moves_the_sound_up():
    def centroid(x):
        f, p = signal.welch(x.mean(axis=1), RATE, nperseg=4096)
        return (f * p).sum() / p.sum()
    assert centroid(render("owls", 30, pitch=2.0)) > 1.6 * centroid(render("owls", 30, pitch=1.0))


def test_distance_makes_a_voice_quieter_and_darker():
    near, far = render("birds", 30, distance=0.0), render("birds", 30, distance=1.0)
    assert np.abs(far).max() < 0.6 * np.abs(near).max()
    f, p_near = signal.welch(near.mean(axis=1), RATE, nperseg=4096)
    _, p_far = signal.welch(far.mean(axis=1), RATE, nperseg=4096)
    high = f > 5000
    assert p_far[high].sum() / p_far.sum() < 0.5 * p_near[high].sum() / p_near.sum()


def test_spread_zero_is_centred_and_spread_one_is_wide():
    def side_share(x):
        return np.mean((x[:, 0] - x[:, 1]) ** 2) / np.mean((x[:, 0] + x[:, 1]) ** 2)
    assert side_share(render("rustle", 10, spread=0.0, distance=0.0)) < 1e-6
    assert side_share(render("rustle", 10, spread=1.0, distance=0.0)) > 0.5


# Listening by proxy: what each name promises, measured.

def test_rustle_is_broadband_noise_whose_level_breathes_slowly():
    audio = render("rustle", 40, distance=0.1).mean(axis=1)
    f, p = signal.welch(audio, RATE, nperseg=2048)
    bands = [p[(f >= lo) & (f < 2 * lo)].sum() for lo in (500, 1000, 2000, 4000)]
    assert min(bands) > 0.05 * max(bands)  # energy in every octave from 500 Hz to 8 kHz
    level = 20 * np.log10(envelope(audio, RATE, 0.25) + 1e-9)
    assert np.percentile(level, 90) - np.percentile(level, 10) > 4  # it swells and fades
    assert np.median(np.abs(np.diff(level))) < 2.5  # but slowly, not in jumps


def test_bird_calls_are_tonal_whistles_in_the_kilohertz_range():
    audio = render("birds", 30, distance=0.0).mean(axis=1)
    f, t, z = signal.stft(audio, RATE, nperseg=2048)
    power = np.abs(z) ** 2
    loud = power.sum(axis=0) > 0.05 * power.sum(axis=0).max()
    peakiness = power[:, loud].max(axis=0) / power[:, loud].mean(axis=0)
    assert np.median(peakiness) > 50  # a few strong lines, not noise
    pitch = f[power[:, loud].argmax(axis=0)]
    assert 1500 < np.median(pitch) < 7000


def test_owls_are_low_soft_hoots_in_pairs():
    audio = render("owls", 60, distance=0.0, density=1.0).mean(axis=1)
    f, p = signal.welch(audio, RATE, nperseg=8192)
    assert (f * p).sum() / p.sum() < 800  # low
    on = envelope(audio, RATE, 0.02) > 0.05 * np.abs(audio).max()
    starts = np.flatnonzero(np.diff(on.astype(int)) == 1) * 0.02
    gaps = np.diff(starts)
    groups = np.split(starts, np.flatnonzero(gaps > 1.5) + 1)
    assert len(groups) >= 3
    assert all(len(g) >= 2 for g in groups), [len(g) for g in groups]  # never a lone hoot


def test_gecko_chirps_sweep_fast_upwards():
    audio = render("geckos", 60, distance=0.0, spread=0.0, density=2.0)[:, 0]
    on = envelope(audio, RATE, 0.002) > 0.2 * np.abs(audio).max()
    edges = np.flatnonzero(np.diff(on.astype(int)))
    phase = np.unwrap(np.angle(signal.hilbert(audio)))
    slopes = []  # octaves per second of the instantaneous frequency through each chirp
    for start, stop in zip(edges[::2] * 96, edges[1::2] * 96):
        if stop - start < 0.02 * RATE:
            continue
        freq = np.diff(phase[start:stop]) * RATE / (2 * np.pi)
        t = np.arange(len(freq)) / RATE
        slopes.append(np.polyfit(t, np.log2(np.clip(freq, 100, None)), 1)[0])
    slopes = np.array(slopes)
    assert len(slopes) >= 5
    assert (slopes > 0).mean() > 0.9  # chirps rise (a few segments hold two overlapping calls)
    assert np.median(slopes) > 15  # fast: an octave in well under 70 ms


def test_frogs_croak_in_a_rhythm():
    audio = render("frogs", 60, distance=0.0, density=2.0).mean(axis=1)
    env = envelope(audio, RATE, 0.01)
    env = env - env.mean()
    ac = np.correlate(env, env, "full")[len(env) - 1:]
    ac /= ac[0]
    lags = np.arange(len(ac)) * 0.01
    beat = (lags > 0.4) & (lags < 0.8)  # one croak period
    off_beat = (lags > 0.2) & (lags < 0.3)  # between croaks
    assert ac[beat].max() > 0.3
    assert ac[beat].max() > 2 * ac[off_beat].max()


def test_butterfly_wings_flutter_fast_and_softly():
    audio = render("butterflies", 40, distance=0.0).mean(axis=1)
    assert np.abs(audio).max() < 0.3  # delicate
    env = envelope(audio, RATE, 0.005)
    f, p = signal.welch(env - env.mean(), 200, nperseg=256)
    assert 10 <= f[np.argmax(p * (f > 3))] <= 25  # wing beats at 10-25 per second
