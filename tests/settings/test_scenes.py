"""Scenes: the shipped ones are valid; broken files are reported with file, key and problem."""

from __future__ import annotations

import pytest

from engine.settings.config import load_config
from engine.paths import UnsafeNameError
from engine.settings.scenes import load_all, load_scene, scene_path
from engine.settings.schema import SettingsError


def test_shipped_scenes_are_valid_and_there_are_at_least_three():
    scenes, problems = load_all(load_config().path("scenes"))
    assert problems == []
    assert {"dawn", "rain", "night"} <= set(scenes)
    for name, scene in scenes.items():
        assert scene.name == name and scene.sound.layers, name


def test_layer_defaults_and_name_from_file(tmp_path):
    path = tmp_path / "calm.toml"
    path.write_text('[sound.layers.birds]\nsource = "birds"\n')
    scene = load_scene(path)
    assert scene.name == "calm"
    assert scene.visual.steps <= 25
    assert scene.sound.layers["birds"].gain == 0.5


@pytest.mark.parametrize("text, key, words", [
    ('[visual]\nstepz = 3\n', "visual.stepz", "did you mean 'steps'"),
    ('[visual]\nscheduler = "dpm"\n', "visual.scheduler", "dpmsolver++"),
    ('[visual]\nhold = -1\n', "visual.hold", "between 0.1 and 3600"),
    ('[sound.layers.x]\nsource = "tiger"\n', "sound.layers.x.source", "birds"),
    ('[sound.layers.x]\ngain = "loud"\n', "sound.layers.x.gain", "expected a number"),
    ('[sound]\nlayers = 3\n', "sound.layers", "expected a table"),
    ('name = "other"\n', "name", "file name"),
    ('[sound.layers."a b"]\nsource = "birds"\n', "sound.layers.a b", "letters, digits"),
])
def test_broken_scene_names_file_key_and_problem(tmp_path, text, key, words):
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(SettingsError) as caught:
        load_scene(path)
    message = str(caught.value)
    assert str(path) in message and key in message and words in message


def test_load_all_keeps_the_good_and_lists_the_broken(tmp_path):
    (tmp_path / "good.toml").write_text('[visual]\nsteps = 10\n')
    (tmp_path / "bad.toml").write_text('[visual\n')
    scenes, problems = load_all(tmp_path)
    assert list(scenes) == ["good"]
    assert len(problems) == 1 and "bad.toml" in problems[0]


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", "..", "/abs", "", ".hidden", "x" * 200])
def test_scene_names_from_outside_never_escape_the_folder(tmp_path, name):
    with pytest.raises(UnsafeNameError):
        scene_path(tmp_path, name)


def test_scene_path_inside_the_folder(tmp_path):
    assert scene_path(tmp_path, "night") == (tmp_path / "night.toml").resolve()
