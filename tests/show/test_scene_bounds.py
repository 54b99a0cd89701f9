"""Reading scenes/ is bounded and off the frame thread (issue 16, class 2), with real files in a real scenes
folder: a FIFO named *.toml, a link to /dev/zero, a link out of the folder, a file of many unknown keys; and a
scene whose model has a bad config is found by `config check` without stopping `perform`."""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time

import pytest

from conftest import PROJECT, run_job, write_config
from engine.cli import config as config_job
from engine.settings.config import load_config
from engine.settings.scenes import load_scene
from engine.settings.schema import MAX_PROBLEMS, MAX_SETTINGS_BYTES, SettingsError
from engine.show.state import Show


@pytest.fixture
def scenes(tmp_path):
    folder = tmp_path / "scenes"
    folder.mkdir()
    (folder / "dawn.toml").write_text("[visual]\nhold = 8.0\n")
    return folder


def run_frames(show, seconds: float) -> list[float]:
    """update() on a frame thread for `seconds` on the monotonic clock; the longest a single update took."""
    longest = [0.0]

    def frames():
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            start = time.monotonic()
            show.update(start)
            longest[0] = max(longest[0], time.monotonic() - start)
            time.sleep(0.01)

    thread = threading.Thread(target=frames, daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the frame thread is stuck in the scene files"
    return longest[0]


def test_a_fifo_and_a_link_to_a_device_neither_block_nor_fill_the_memory(scenes, caplog):
    show = Show(load_config(), scenes, "dawn")
    os.mkfifo(scenes / "fifo.toml")            # before: open() waited for a writer, on the frame thread
    (scenes / "zero.toml").symlink_to("/dev/zero")  # before: read until the memory ran out
    with caplog.at_level(logging.WARNING):
        longest = run_frames(show, 4.0)
        show._watch.join()
        run_frames(show, 2.0)
    assert longest < 1.0
    assert show.stats["reload_errors"] == 2 and show.scene.name == "dawn"
    assert "fifo.toml: expected a regular file" in caplog.text
    assert "zero.toml: expected a file in" in caplog.text and "/dev/zero" in caplog.text


def test_the_scene_files_are_read_on_the_watch_thread(scenes, monkeypatch):
    readers = []
    monkeypatch.setattr("engine.show.state.load_scene",
                        lambda path: readers.append(threading.current_thread().name) or load_scene(path))
    show = Show(load_config(), scenes, "dawn")  # the first scene is read where the show is made
    readers.clear()
    (scenes / "rain.toml").write_text("[visual]\nhold = 3.0\n")
    run_frames(show, 3.0)
    show._watch.join()
    assert readers and set(readers) == {"scene-watch"}


def test_a_link_out_of_the_folder_and_an_oversized_file_are_refused(scenes, tmp_path):
    outside = tmp_path / "elsewhere.toml"
    outside.write_text("[visual]\nhold = 2.0\n")
    (scenes / "out.toml").symlink_to(outside)
    with pytest.raises(SettingsError, match="out.toml: expected a file in .*found a link to"):
        load_scene(scenes / "out.toml")
    (scenes / "big.toml").write_text("# " + "x" * MAX_SETTINGS_BYTES + "\n")
    with pytest.raises(SettingsError, match="big.toml: expected at most 64 KiB"):
        load_scene(scenes / "big.toml")


def test_many_unknown_keys_make_one_short_report_and_few_log_lines(scenes, caplog):
    keys = "".join(f"k{i} = 1\n" for i in range(6000))  # under 64 KiB: every key is read and refused
    (scenes / "keys.toml").write_text(keys)
    with pytest.raises(SettingsError) as error:
        load_scene(scenes / "keys.toml")
    assert len(error.value.problems) == MAX_PROBLEMS + 1
    assert error.value.problems[-1] == f"... and {6000 - MAX_PROBLEMS} more problems"
    show = Show(load_config(), scenes, "dawn")
    with caplog.at_level(logging.WARNING):
        for i in range(5):  # rewritten five times: before, 6,000 error lines each time
            (scenes / "keys.toml").write_text(keys + f"again{i} = 1\n")
            run_frames(show, 1.5)
            show._watch.join()
        run_frames(show, 1.5)
    assert show.stats["reload_errors"] >= 5
    assert caplog.text.count("\n") < 3 * (MAX_PROBLEMS + 2)  # rate-limited: one report per 10 s


def bad_model(tmp_path, tiny_model):
    model = tmp_path / "models" / "bent"
    shutil.copytree(tiny_model, model)
    unet = model / "unet" / "config.json"
    unet.write_text(json.dumps({**json.loads(unet.read_text()), "sample_size": "sixty-four"}))
    return model


def test_config_check_finds_a_scene_whose_model_is_bad(tmp_path, tiny_model, capsys):
    config_path = write_config(tmp_path, tiny_model)
    model = bad_model(tmp_path, tiny_model)
    (tmp_path / "scenes" / "bent.toml").write_text(f'[visual]\nmodel = "{model}"\n')
    assert run_job(config_job, load_config(config_path), "check") == 2
    out = capsys.readouterr().out
    assert "bent.toml: visual.model:" in out and "key 'sample_size'" in out and "sixty-four" in out
    assert "tiny.toml" not in out.split("valid in")[-1].split("\n", 1)[-1]  # the good scenes are not blamed


def test_perform_starts_with_a_scene_whose_model_is_bad(tmp_path, tiny_model):
    from engine.cli import main

    config_path = write_config(tmp_path, tiny_model)
    model = bad_model(tmp_path, tiny_model)
    (tmp_path / "scenes" / "bent.toml").write_text(f'[visual]\nmodel = "{model}"\n')
    # before: int('sixty-four'[-1]) sizing the picture slots ended the start with a traceback
    assert main(["--config", str(config_path), "perform", "--headless", "--duration", "2", "--scene", "bent"]) == 0


def test_the_project_scenes_still_load():
    for path in sorted((PROJECT / "scenes").glob("*.toml")):
        load_scene(path)
