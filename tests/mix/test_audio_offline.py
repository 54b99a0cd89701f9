"""OfflineAudio: the live mix rendered inline, deterministic for a seed, equal to the voices it is made of."""

import logging

import numpy as np
import pytest

from engine.mix.offline import OfflineAudio
from engine.mix.mixer import LEVEL_RAMP_S
from engine.sound.sources import voice_seed
from engine.settings.config import Config
from engine.settings.scenes import LayerSettings, Scene, SoundSettings, load_scene
from engine.sound.voices import make_voice

from conftest import SCENES

RATE = 48000


def scene(fade=0.0, master=1.0, **layers):
    return Scene(sound=SoundSettings(master=master, fade=fade, layers=layers), name="test")


def render_in(audio, sizes):
    return np.concatenate([audio.render(n) for n in sizes])


def test_same_seed_same_sound_other_seed_other_sound():
    dawn = load_scene(SCENES / "dawn.toml")
    a = OfflineAudio(Config(), dawn, RATE, seed=7).render(RATE * 2)
    b = OfflineAudio(Config(), dawn, RATE, seed=7).render(RATE * 2)
    c = OfflineAudio(Config(), dawn, RATE, seed=8).render(RATE * 2)
    assert a.dtype == np.float32 and a.shape == (RATE * 2, 2)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    assert np.sqrt(np.mean(a[RATE:] ** 2)) > 1e-4   # it is sound, not silence


def test_the_mix_of_one_layer_is_that_voice_times_its_gains():
    layer = LayerSettings(source="frogs", gain=0.4, density=2.0)
    audio = OfflineAudio(Config(), scene(frogs=layer, master=0.5), RATE, seed=3)
    mix = audio.render(RATE)
    voice = make_voice(layer, RATE, voice_seed(3, 0, "frogs")).render(RATE)
    settled = slice(RATE // 10, None)  # after the short fade-in and the supply ramp
    expected = voice[settled] * 0.4 * 0.5 * Config().audio.master  # layer x scene x master
    assert np.abs(expected).max() < 0.8                              # below the limiter's knee
    assert np.allclose(mix[settled], expected, atol=1e-6)


def test_block_sizes_do_not_change_the_sound_once_fades_settle():
    dawn = load_scene(SCENES / "dawn.toml")
    a = render_in(OfflineAudio(Config(), dawn, RATE, seed=1), [RATE * 6])
    b = render_in(OfflineAudio(Config(), dawn, RATE, seed=1), [1600] * (RATE * 6 // 1600))
    settled = slice(RATE * 5, None)  # dawn fades in over 4 s
    assert np.allclose(a[settled], b[settled], atol=1e-6)


def test_a_gain_change_is_a_ramp_not_a_step():
    layer = LayerSettings(source="rustle", gain=0.2, density=3.0)
    quiet, moved = (OfflineAudio(Config(), scene(leaves=layer), RATE, seed=2) for _ in range(2))
    ref, out = quiet.render(RATE // 2), moved.render(RATE // 2)
    moved.board.set_layer("leaves", "gain", 0.4)
    ref, out = quiet.render(RATE // 4), moved.render(RATE // 4)
    heard = np.abs(ref[:, 0]) > 1e-3
    gain = out[heard, 0] / ref[heard, 0] * 0.2           # the gain curve the change drew
    where = np.flatnonzero(heard)
    steps = np.abs(np.diff(gain)) / np.diff(where)        # per sample
    assert gain[0] == pytest.approx(0.2, abs=1e-3) and gain[-1] == pytest.approx(0.4, rel=1e-3)
    assert steps.max() <= 1.0 / (LEVEL_RAMP_S * RATE) * 1.01
    ramp_frames = np.flatnonzero(np.abs(gain - 0.4) < 1e-4)[0]
    assert where[ramp_frames] >= 0.2 * LEVEL_RAMP_S * RATE * 0.9   # it took the ramp's time


def test_scene_change_crossfades_and_the_old_layers_leave():
    first = scene(fade=0.0, frogs=LayerSettings(source="frogs", gain=0.5))
    second = scene(fade=1.0, owls=LayerSettings(source="owls", gain=0.5))
    audio = OfflineAudio(Config(), first, RATE, seed=4)
    audio.render(RATE // 2)
    audio.set_scene(second)
    assert set(audio.board.layers) == {"owls"} and len(audio.board.leaving) == 1
    audio.render(RATE // 2)
    assert len(audio.board.leaving) == 1          # still fading at half time
    audio.render(RATE // 2 + 1024)
    assert audio.board.leaving == [] and len(audio.mixer.active) == 1   # gone, slot freed


def test_mute_silences_and_bad_addresses_say_what_was_expected():
    from engine.show.controls import CommandError

    audio = OfflineAudio(Config(), load_scene(SCENES / "rain.toml"), RATE, seed=5)
    audio.render(RATE)
    audio.board.set_mute(True)
    audio.render(RATE // 10)
    assert not audio.render(1024).any()
    with pytest.raises(CommandError, match="no layer 'owl'"):
        audio.board.set_layer("owl", "gain", 0.5)
    audio.board.set_layer("frogs", "density", 3.0)
    assert audio.board.host.sources[audio.board.layers["frogs"].slot].density == 3.0


def test_stable_audio_layers_render_offline_with_the_stand_in(caplog):
    caplog.set_level(logging.INFO)
    audio = OfflineAudio(Config(), scene(bed=LayerSettings(source="stable-audio", gain=0.5)), RATE, seed=6)
    assert np.abs(audio.render(RATE)).max() > 0
    assert "stands in" in caplog.text


def test_the_show_routes_its_changes_to_the_mix_once(tmp_path):
    from engine.mix.board import follow
    from engine.show.controls import Command
    from engine.show.state import Show

    (tmp_path / "one.toml").write_text('[sound.layers.frogs]\nsource = "frogs"\ngain = 0.3\n')
    (tmp_path / "two.toml").write_text('[sound]\nfade = 0.0\n[sound.layers.owls]\nsource = "owls"\n')
    show = Show(Config(), tmp_path, "one")
    audio = OfflineAudio(Config(), show.scene, RATE, seed=6)
    follow(show, audio)
    for address, value in (("/audio/layer/frogs/gain", 0.9), ("/audio/layer/frogs/density", 2.0),
                           ("/audio/master", 1.2), ("/audio/mute", True)):
        show.submit(Command(address, (value,), "test"))
    show.update(0.0)
    frogs = audio.board.layers["frogs"]
    assert (frogs.gain, frogs.density, audio.board.master, audio.board.muted) == (0.9, 2.0, 1.2, True)
    assert audio.board.host.sources[frogs.slot].density == 2.0
    show.submit(Command("/scene/load", ("two",), "test"))
    show.update(0.0)
    assert set(audio.board.layers) == {"owls"}
