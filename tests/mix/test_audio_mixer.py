"""The mixer core: bounded gain ramps, equal-power crossfades, starving layers fade, soft limiter, no allocation."""

import math
import tracemalloc

import numpy as np
import pytest

from engine.mix.mixer import FADE, LEVEL_RAMP_S, LIMIT_KNEE, Mixer, soft_limit

RATE, BLOCK = 48000, 512


class ConstantFeed:
    """A test signal: a constant value on both channels, `frames` of it (endless when None)."""

    def __init__(self, value=1.0, frames=None):
        self.value, self.left = value, frames

    def available(self):
        return 1 << 40 if self.left is None else self.left

    def read(self, out):
        out.fill(self.value)
        self.skip(len(out))

    def skip(self, frames):
        if self.left is not None:
            self.left -= frames


def run(mixer, blocks, frames=BLOCK):
    out = np.zeros((blocks * frames, 2), np.float32)
    for b in range(blocks):
        mixer.process(out[b * frames:(b + 1) * frames])
    return out[:, 0].astype(np.float64)


def settled(level=0.5):
    mixer = Mixer(4, RATE, BLOCK)
    mixer.open_slot(0, 1, ConstantFeed(), level, fade_seconds=0.0)
    run(mixer, 20)
    return mixer


def test_gain_changes_ramp_with_no_step_larger_than_the_slew_allows():
    mixer = settled(0.2)
    before = run(mixer, 2)
    assert before[-1] == pytest.approx(0.2 * math.sin(math.pi / 2))
    mixer.set_level(0, 0.7)
    after = run(mixer, 10)
    steps = np.abs(np.diff(np.concatenate([before, after])))
    assert steps.max() <= 1.0 / (LEVEL_RAMP_S * RATE) + 1e-7   # bounded per sample
    assert steps.max() > 0                                        # and it did move
    assert after[-1] == pytest.approx(0.7)
    # 0.5 of gain at 1.0 per 50 ms: there in 25 ms (1200 frames), not in one jump
    assert after[600] == pytest.approx(0.2 + 0.5 * 601 / 1200, abs=1e-3)


def test_master_and_mute_ramp_too():
    mixer = settled(0.5)
    mixer.set_master(0.0)
    out = run(mixer, 8)
    assert np.abs(np.diff(out)).max() <= 1.0 / (LEVEL_RAMP_S * RATE) * 0.5 + 1e-7
    assert out[-1] == 0.0


def test_scene_crossfade_is_equal_power_and_frees_the_old_slot():
    mixer = settled(0.5)
    mixer.fade_to(0, 0.0, 1.0)
    mixer.open_slot(1, 2, ConstantFeed(), 0.5, fade_seconds=1.0)
    gains = []
    for _ in range(100):  # 512 * 100 frames > 1 s
        run(mixer, 1)
        gains.append(mixer._gain_end.copy())
    g = np.array(gains)[:, :2]
    power = (g ** 2).sum(axis=1)
    assert np.allclose(power[5:90], 0.25, atol=1e-3)   # 0.5^2: equal power all the way through
    assert g[-1, 0] == 0.0 and g[-1, 1] == pytest.approx(0.5)
    assert mixer.faded_out(0) and not mixer.faded_out(1)


def test_a_starving_feed_fades_out_before_it_runs_dry_and_comes_back_smoothly():
    mixer = Mixer(2, RATE, BLOCK)
    feed = ConstantFeed(0.5, frames=40 * BLOCK)  # below the limiter's knee
    mixer.open_slot(0, 1, feed, 1.0, fade_seconds=0.0)
    out = run(mixer, 60)
    bound = 1.0 / mixer.low_water + 1e-7
    assert np.abs(np.diff(out[10 * BLOCK:])).max() <= bound      # no click when it ran dry
    assert out[39 * BLOCK] < 0.15 and out[-1] == 0.0 and out[20 * BLOCK] == pytest.approx(0.5)
    assert mixer.starved == 1
    feed.left = 1 << 40                               # the worker caught up
    back = run(mixer, 20)
    assert np.abs(np.diff(back)).max() <= bound and back[-1] == pytest.approx(0.5)


def test_soft_limit_leaves_quiet_sound_alone_and_never_passes_one():
    x = np.linspace(-6, 6, 4001, dtype=np.float32)[:, None].repeat(2, axis=1)
    y = x.copy()
    soft_limit(y, np.empty_like(y), np.empty_like(y))
    quiet = np.abs(x) <= LIMIT_KNEE
    assert np.array_equal(y[quiet], x[quiet])
    assert np.abs(y).max() <= 1.0 + 1e-6 and np.all(np.sign(y) == np.sign(x))
    assert np.all(np.diff(y[:, 0]) >= -1e-6)          # monotonic: no fold-back
    assert np.abs(np.diff(y[:, 0])).max() <= np.abs(np.diff(x[:, 0])).max() + 1e-6  # continuous


def test_process_allocates_no_block_sized_arrays():
    mixer = Mixer(4, RATE, BLOCK)
    for slot in range(3):
        mixer.open_slot(slot, slot + 1, ConstantFeed(0.3), 0.5, fade_seconds=0.5)  # ramps run: the busy path
    out = np.zeros((BLOCK, 2), np.float32)
    mixer.process(out)
    tracemalloc.start()
    base = tracemalloc.take_snapshot()
    tracemalloc.reset_peak()
    start_current, _ = tracemalloc.get_traced_memory()
    for _ in range(50):
        mixer.process(out)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert mixer.current[FADE, 0] > 0
    assert peak - start_current < BLOCK * 2 * 4 // 2   # less than half of one block's array, ever
    assert current - start_current < 1024             # and nothing kept
    del base


def test_two_mixers_over_one_shared_block_the_control_side_steers_the_audio_side():
    from engine.mix.mixer import mixer_layout
    from engine.processes.shared import SharedArrays

    made = []

    def feed_for(slot, epoch):
        made.append((slot, epoch))
        feed = ConstantFeed(0.1 * epoch)
        feed.epoch = epoch
        return feed

    shared = SharedArrays(mixer_layout(4))
    attached = SharedArrays(mixer_layout(4), shared.name)
    try:
        control = Mixer(4, RATE, BLOCK, master=0.5, shared=shared)
        audio = Mixer(4, RATE, BLOCK, master=9.0, shared=attached, feed_for=feed_for)  # attached: keeps 0.5
        assert run(audio, 2).max() == 0.0                  # nothing playing yet
        control.open_slot(2, 3, None, 1.0, fade_seconds=0.0)
        out = run(audio, 20)
        assert made == [(2, 3)] and audio.active == (2,)
        assert out[-1] == pytest.approx(0.3 * 0.5)         # epoch 3's feed, at the control side's master
        control.set_master(1.0)
        assert run(audio, 20)[-1] == pytest.approx(0.3)
        control.fade_to(2, 0.0, 0.01)
        run(audio, 5)
        assert control.faded_out(2)                        # the audio side's progress, seen by the board
        control.close_slot(2)
        control.open_slot(2, 4, None, 1.0, fade_seconds=0.0)  # the slot's next layer gets a new feed
        assert run(audio, 20)[-1] == pytest.approx(0.4) and made == [(2, 3), (2, 4)]
    finally:
        attached.close()
        shared.close()
