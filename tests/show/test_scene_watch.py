"""Scene files are watched by their stat: written, new and removed files are noticed once."""

from __future__ import annotations

import os

from engine.show.watch import SceneWatch


def test_changes_new_and_removed_files_are_reported_once(tmp_path):
    (tmp_path / "dawn.toml").write_text("a = 1\n")
    (tmp_path / "notes.txt").write_text("not a scene")
    watch = SceneWatch(tmp_path)
    assert watch.changed() == []
    (tmp_path / "dawn.toml").write_text("a = 22\n")
    (tmp_path / "rain.toml").write_text("")
    (tmp_path / "notes.txt").write_text("still not a scene")
    assert watch.changed() == [tmp_path / "dawn.toml", tmp_path / "rain.toml"]
    assert watch.changed() == []
    os.utime(tmp_path / "rain.toml", ns=(1, 2 * 10**18))  # same size, new time: an editor's save
    (tmp_path / "dawn.toml").unlink()
    assert watch.changed() == [tmp_path / "dawn.toml", tmp_path / "rain.toml"]


def test_a_missing_folder_is_not_an_error(tmp_path):
    watch = SceneWatch(tmp_path / "nothing")
    assert watch.changed() == []
