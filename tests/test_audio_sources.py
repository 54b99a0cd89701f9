"""Layer sources: synth voices, the stable-audio stand-in, seeds, sanitizing."""

import logging

import numpy as np

from engine.audio.sources import STAND_IN, VoiceFeed, open_source, sanitize, voice_seed
from engine.scenes import LayerSettings
from engine.sound.voices import VOICES


def test_a_synth_layer_gets_its_voice():
    source = open_source("birds", LayerSettings(source="birds"), 48000, seed=1)
    assert isinstance(source, VOICES["birds"])
    block = source.render(1000)
    assert block.shape == (1000, 2) and block.dtype == np.float32


def test_stable_audio_without_weights_plays_the_stand_in_and_says_so(caplog, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache: no weights here
    caplog.set_level(logging.INFO)
    source = open_source("bed", LayerSettings(source="stable-audio"), 48000, seed=1)
    assert isinstance(source, VOICES[STAND_IN])
    assert "no Stable Audio weights" in caplog.text and "bed" in caplog.text
    source.density = 2.0
    assert np.abs(source.render(48000)).max() > 0


def test_seeds_differ_by_layer_and_by_scene_entry_and_repeat_otherwise():
    assert voice_seed(1, 0, "birds") == voice_seed(1, 0, "birds")
    assert len({voice_seed(1, 0, "birds"), voice_seed(1, 1, "birds"), voice_seed(1, 0, "owls"),
                voice_seed(2, 0, "birds")}) == 4


def test_sanitize_keeps_a_broken_block_out_of_the_mix():
    block = np.array([[np.nan, np.inf], [-np.inf, 100.0], [0.5, -0.25]])
    clean = sanitize(block)
    assert clean.dtype == np.float32
    assert np.array_equal(clean, [[0, 0], [0, 4.0], [0.5, -0.25]])


def test_voice_feed_renders_inline_and_skips_in_step():
    a, b = (open_source("f", LayerSettings(source="frogs", density=4.0), 48000, seed=3) for _ in range(2))
    feed = VoiceFeed(a)
    out = np.zeros((512, 2), np.float32)
    feed.skip(512)
    feed.read(out)
    b.render(512)
    assert np.array_equal(out, b.render(512))
