"""Seamless loops: the seam is no bigger than the clip's ordinary steps, and loudness does not dip there."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import UserError
from engine.settings.scenes import LayerSettings
from engine.sound.loops import LoopPlayer, best_end, make_loop
from engine.settings.scenes import DEFAULT_LAYERS
from engine.sound.synth import JungleBed
from engine.sound.voices import make_voice

RATE = 48000


def short_rms(x: np.ndarray, window: int) -> np.ndarray:
    return np.sqrt(np.convolve((x ** 2).mean(axis=1), np.ones(window) / window, mode="valid"))


@pytest.mark.parametrize("clip_source", ["bed", "rustle", "tone"])
def test_seam_is_an_ordinary_step_and_loudness_does_not_dip(clip_source):
    if clip_source == "bed":
        clip = JungleBed(DEFAULT_LAYERS, RATE, seed=4).render(12 * RATE)
    elif clip_source == "rustle":
        clip = make_voice(LayerSettings(source="rustle", density=3.0), RATE, 1).render(12 * RATE)
    else:  # a steady tone whose period does not divide the clip: a naive loop clicks
        t = np.arange(12 * RATE) / RATE
        clip = np.stack([0.5 * np.sin(2 * np.pi * 441.3 * t)] * 2, axis=1).astype(np.float32)
    loop = make_loop(clip, RATE, crossfade_s=1.0)
    assert loop.dtype == np.float32 and loop.shape[1] == 2 and 8 * RATE < len(loop) < 11 * RATE
    steps = np.abs(np.diff(clip, axis=0)).max(axis=1)
    seam = np.abs(loop[0] - loop[-1]).max()
    assert seam <= np.percentile(steps, 99)
    # Loudness across the wrap (the loop played twice) against loudness elsewhere in the loop.
    twice = np.concatenate([loop, loop])
    rms = short_rms(twice, RATE // 20)
    at_seam = rms[len(loop) - RATE // 2: len(loop) + RATE // 2]  # the crossfade and around it
    assert at_seam.min() >= 0.5 * np.median(rms)
    if clip_source == "tone":  # a steady sound stays steady to within a dB or so
        assert at_seam.min() > 0.85 * np.median(rms)


def test_loop_point_search_finds_the_matching_stretch():
    rng = np.random.default_rng(0)
    clip = rng.standard_normal((6 * RATE, 2)).astype(np.float32)
    end = 5 * RATE + 1234
    clip[end - RATE:end] = clip[:RATE]  # the head appears again, ending at `end`
    assert best_end(clip, RATE, 2 * RATE) == end


def test_loop_player_wraps_in_any_block_sizes():
    loop = np.arange(10 * 2, dtype=np.float32).reshape(10, 2)
    player = LoopPlayer(loop)
    out = np.concatenate([player.render(n) for n in (3, 7, 1, 14)])
    np.testing.assert_array_equal(out, np.concatenate([loop, loop, loop[:5]]))
    player.density = 3.0  # accepted and ignored, like a voice's
    assert player.render(2).shape == (2, 2)


def test_bad_clips_are_clear_errors():
    with pytest.raises(UserError, match="at least 3 s"):
        make_loop(np.zeros((RATE, 2), np.float32), RATE, crossfade_s=1.0)
    with pytest.raises(UserError, match="shape \\(frames, 2\\)"):
        make_loop(np.zeros(5 * RATE, np.float32), RATE)
    with pytest.raises(UserError, match="crossfade"):
        make_loop(np.zeros((5 * RATE, 2), np.float32), RATE, crossfade_s=0)
    with pytest.raises(UserError):
        LoopPlayer(np.zeros((0, 2), np.float32))
