"""The jungle bed: a scene's synth layers summed at their gains, streaming like a single voice."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import UserError
from engine.settings.scenes import DEFAULT_LAYERS, LayerSettings
from engine.sound.synth import JungleBed, layer_seed
from engine.sound.voices import SYNTH_VOICES
from engine.sound.voices import make_voice

RATE = 48000


def test_default_bed_has_all_six_voices_and_peaks_below_full_scale():
    assert sorted(layer.source for layer in DEFAULT_LAYERS.values()) == sorted(SYNTH_VOICES)
    audio = JungleBed(DEFAULT_LAYERS, RATE, seed=0).render(60 * RATE)
    assert audio.dtype == np.float32 and audio.shape == (60 * RATE, 2)
    assert 0.1 < np.abs(audio).max() < 1.0


def test_bed_is_the_sum_of_its_voices_at_their_gains():
    layers = {"a": LayerSettings(source="birds", gain=0.3), "b": LayerSettings(source="frogs", gain=1.5)}
    bed = JungleBed(layers, RATE, seed=7).render(5 * RATE)
    by_hand = sum(np.float32(layer.gain) * make_voice(layer, RATE, layer_seed(7, name)).render(5 * RATE)
                  for name, layer in layers.items())
    np.testing.assert_allclose(bed, by_hand, atol=1e-6)


def test_muted_layers_are_left_out_and_block_sizes_do_not_matter():
    layers = dict(DEFAULT_LAYERS, owls=LayerSettings(source="owls", mute=True))
    bed = JungleBed(layers, RATE, seed=1)
    assert "owls" not in bed.voices
    whole = JungleBed(layers, RATE, seed=1).render(3 * RATE)
    blocks = np.concatenate([bed.render(n) for n in [1, 511, 4097, 30000, 3 * RATE - 34609]])
    assert np.array_equal(whole, blocks)


def test_a_layer_keeps_its_sound_whatever_other_layers_the_scene_has():
    alone = JungleBed({"frogs": DEFAULT_LAYERS["frogs"]}, RATE, seed=2).render(RATE)
    both = JungleBed({"frogs": DEFAULT_LAYERS["frogs"], "birds": LayerSettings(source="birds", gain=0.0)},
                     RATE, seed=2).render(RATE)
    np.testing.assert_array_equal(alone, both)


def test_non_synth_layers_are_refused_with_their_names():
    with pytest.raises(UserError, match="rain-loop \\(stable-audio\\)"):
        JungleBed({"rain-loop": LayerSettings(source="stable-audio")}, RATE, seed=0)
