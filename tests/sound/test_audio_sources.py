"""Layer sources: synth voices, the stable-audio stand-in, seeds, sanitizing."""

import logging

import numpy as np

from engine.sound.sources import STAND_IN, VoiceFeed, open_source, sanitize, voice_seed
from engine.settings.scenes import LayerSettings
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


def test_a_stable_audio_layer_plays_the_stand_in_until_its_loop_is_ready_then_crossfades(tmp_path, caplog):
    from conftest import save_tiny_stable_audio

    from engine.sound.sources import SWITCH_SECONDS, LoopWhenReady
    from engine.sound.loops import LoopPlayer

    caplog.set_level(logging.INFO)
    layer = LayerSettings(source="stable-audio", density=2.0)
    stand_in = open_source("bed", LayerSettings(source=STAND_IN, density=2.0), 8000, seed=1)
    twin = open_source("bed", LayerSettings(source=STAND_IN, density=2.0), 8000, seed=1)
    folder = save_tiny_stable_audio(tmp_path / "tiny")
    source = LoopWhenReady("bed", layer, 8000, 1, folder, stand_in)
    source._thread.join(120)
    # The tiny model cannot make a 20 s clip: the failure is logged and the stand-in stays.
    assert source.loop is None and "Stable Audio failed" in caplog.text
    assert np.array_equal(source.render(800), twin.render(800))
    source.density = 0.5
    assert stand_in.density == 0.5
    twin.density = 0.5
    source.loop = LoopPlayer(np.full((1000, 2), 0.25, np.float32))   # as the thread sets it when done
    switch = np.concatenate([source.render(400) for _ in range(round(SWITCH_SECONDS * 8000) // 400 + 2)])
    expected_voice = twin.render(len(switch))
    fade = round(SWITCH_SECONDS * 8000)
    t = np.arange(fade) / fade * np.pi / 2
    assert np.allclose(switch[:fade, 0], expected_voice[:fade, 0] * np.cos(t) + 0.25 * np.sin(t), atol=1e-6)
    assert np.allclose(switch[fade:], 0.25)
