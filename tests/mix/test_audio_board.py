"""The board: scenes and addresses to mixer slots, shared by live and offline sound."""

import numpy as np
import pytest

from engine.mix.board import Board
from engine.mix.mixer import FADE, LEVEL, Mixer
from engine.mix.offline import InlineHost
from engine.show.controls import CommandError
from engine.settings.scenes import LayerSettings, Scene, SoundSettings

RATE, BLOCK = 48000, 512


def scene(fade=1.0, master=1.0, **layers):
    return Scene(sound=SoundSettings(master=master, fade=fade, layers=layers), name="test")


def board(slots=8):
    mixer = Mixer(slots, RATE, BLOCK)
    return Board(mixer, InlineHost(RATE), seed=1, master=1.0), mixer


def play(b, mixer, seconds):
    out = np.zeros((BLOCK, 2), np.float32)
    for _ in range(int(seconds * RATE / BLOCK) + 1):
        mixer.process(out)
        b.tick()


def test_a_layer_both_scenes_share_keeps_playing_and_glides_to_its_new_gain():
    b, mixer = board()
    b.set_scene(scene(birds=LayerSettings(source="birds", gain=0.5), owls=LayerSettings(source="owls")))
    play(b, mixer, 1.2)
    birds = b.layers["birds"]
    voice = b.host.sources[birds.slot]
    b.set_scene(scene(fade=2.0, master=0.5, birds=LayerSettings(source="birds", gain=0.8, density=3.0)))
    assert b.layers["birds"] is birds and b.host.sources[birds.slot] is voice   # same voice, no restart
    assert voice.density == 3.0
    assert mixer.target[LEVEL, birds.slot] == pytest.approx(0.4)                # 0.8 x scene 0.5
    play(b, mixer, 1.0)
    assert 0.5 > mixer.current[LEVEL, birds.slot] > 0.4                          # gliding over 2 s
    assert [p.name for p in b.leaving] == ["owls"]


def test_a_changed_voice_is_a_new_layer_crossfading_with_the_old():
    b, mixer = board()
    b.set_scene(scene(birds=LayerSettings(source="birds", pitch=1.0)))
    old = b.layers["birds"].slot
    b.set_scene(scene(birds=LayerSettings(source="birds", pitch=2.0)))
    new = b.layers["birds"].slot
    assert new != old and mixer.target[FADE, old] == 0.0 and mixer.target[FADE, new] == 1.0
    play(b, mixer, 1.1)
    assert old in b.free and old not in mixer.active


def test_when_slots_run_out_the_quietest_leaving_layer_hurries_out():
    b, mixer = board(slots=4)
    b.set_scene(scene(fade=10.0, a=LayerSettings(source="frogs"), c=LayerSettings(source="owls")))
    play(b, mixer, 0.2)
    b.set_scene(scene(fade=10.0, x=LayerSettings(source="frogs"), y=LayerSettings(source="owls"),
                      z=LayerSettings(source="geckos")))
    assert "z" not in b.layers and [w[0] for w in b.waiting] == ["z"]
    play(b, mixer, 0.2)                              # 50 ms to hurry one out, then z gets its slot
    assert "z" in b.layers and len(b.leaving) == 1


def test_addresses_and_values():
    b, mixer = board()
    b.set_scene(scene(frogs=LayerSettings(source="frogs", gain=0.3)))
    b.set_layer("frogs", "mute", True)
    assert mixer.target[LEVEL, b.layers["frogs"].slot] == 0.0
    b.set_master(1.5)
    b.set_mute(True)
    assert mixer.master_target == 0.0
    b.set_mute(False)
    assert mixer.master_target == 1.5
    frogs = b.layers["frogs"]
    assert (b.master, b.muted, frogs.gain, frogs.mute, frogs.density) == (1.5, False, 0.3, True, 1.0)
    # Addresses and values are checked once, by the Show (tests/test_show.py); a layer not playing is the
    # board's to say.
    with pytest.raises(CommandError, match="/audio/layer/toads/gain: no layer 'toads'"):
        b.set_layer("toads", "gain", 1.0)
