"""docs/scenes.md documents every key a scene file may hold, and its examples are valid scenes."""

from __future__ import annotations

import dataclasses
import re

from engine.settings.config import PROJECT_ROOT
from engine.settings.scenes import SCHEDULERS, SOURCES, LayerSettings, Scene, SoundSettings, VisualSettings, load_scene

DOC = (PROJECT_ROOT / "docs" / "scenes.md").read_text()


def section(title: str) -> str:
    start = DOC.index(title)
    following = DOC.find("\n#", start + len(title))
    return DOC[start:following if following > 0 else None]


def test_every_key_and_choice_is_documented():
    for cls, title in ((Scene, "### Top level"), (VisualSettings, "### `[visual]`"),
                       (SoundSettings, "### `[sound]`"), (LayerSettings, "### `[sound.layers.NAME]`")):
        table = section(title)
        for f in dataclasses.fields(cls):
            if f.name not in ("visual", "sound"):
                assert f"| `{f.name}` |" in table, f"{title}: {f.name} is not documented"
    for name in SCHEDULERS + SOURCES:
        assert f"`{name}`" in DOC, name


def test_the_examples_are_valid_scenes(tmp_path):
    example = re.search(r"```toml\n# scenes/night.toml\n(.*?)```", DOC, re.S).group(1)
    path = tmp_path / "night.toml"
    path.write_text(example)
    scene = load_scene(path)
    assert scene.visual.frame == "postcard" and "owls" in scene.sound.layers
