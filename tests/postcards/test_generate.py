"""`postcards generate`: files, grid, determinism, the model list, and clear errors that leave nothing behind."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from engine.settings.config import load_config
from engine.errors import UserError
from engine.cli import generate
from engine.postcards.generate import make_grid

from conftest import run_job


@pytest.fixture
def settings(tmp_path, tiny_model):
    shutil.copytree(tiny_model, tmp_path / "models" / "tiny")
    (tmp_path / "config.toml").write_text('[paths]\nmodels = "models"\n[logging]\nfile = ""\n')
    return load_config(tmp_path / "config.toml")


def run_generate(settings, *argv: str) -> int:
    return run_job(generate, settings, *argv)


def test_writes_postcards_and_a_near_square_grid(settings, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_generate(settings, "--model", "tiny", "--n", "5", "--steps", "2", "--grid", "--size", "64x48",
                        "--threads", "1", "--out", str(out)) == 0
    assert {p.name for p in out.iterdir()} == {f"postcard_{i:03d}.png" for i in range(5)} | {"grid.png"}
    assert Image.open(out / "postcard_004.png").size == (64, 48)  # covered and centre-cropped
    assert Image.open(out / "grid.png").size == (3 * 64, 2 * 48)
    assert str(out.resolve()) in capsys.readouterr().out


def test_grid_only_writes_the_grid_alone_the_same_as_with_the_postcards(settings, tmp_path, capsys):
    common = ("--model", "tiny", "--n", "5", "--steps", "2", "--threads", "1")
    assert run_generate(settings, *common, "--grid-only", "--out", str(tmp_path / "only")) == 0
    assert [p.name for p in (tmp_path / "only").iterdir()] == ["grid.png"]
    assert "grid.png" in capsys.readouterr().out
    run_generate(settings, *common, "--grid", "--out", str(tmp_path / "all"))
    assert (tmp_path / "only" / "grid.png").read_bytes() == (tmp_path / "all" / "grid.png").read_bytes()


def test_same_seed_same_files(settings, tmp_path):
    for out in ("a", "b", "batch-1"):
        run_generate(settings, "--model", "tiny", "--n", "3", "--steps", "2", "--seed", "7", "--scheduler", "ddpm",
                     "--batch", "1" if out == "batch-1" else "3", "--out", str(tmp_path / out))
    for i in range(3):
        name = f"postcard_{i:03d}.png"
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        # Another batch size draws the same noise; only the float rounding of batched maths may differ.
        one, three = (np.asarray(Image.open(tmp_path / out / name), dtype=int) for out in ("batch-1", "a"))
        assert np.abs(one - three).max() <= 2


def test_lists_the_models(settings, capsys):
    assert run_generate(settings, "--list") == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("tiny") and "32 px" in line and "M params" in line


def test_grid_is_near_square():
    assert make_grid(np.zeros((50, 4, 4, 3), np.uint8)).shape == (7 * 4, 8 * 4, 3)
    assert make_grid(np.zeros((1, 4, 4, 3), np.uint8)).shape == (4, 4, 3)


@pytest.mark.parametrize("argv, message", [
    (["--model", "jungle"], r"'jungle'.*known models: tiny"),
    (["--model", "tiny", "--n", "0"], r"--n: expected a whole number of at least 1, found 0"),
    (["--model", "tiny", "--n", "-3"], r"--n: .*found -3"),
    (["--model", "tiny", "--scheduler", "lms"], r"'lms': expected one of ddpm, ddim, dpmsolver\+\+"),
    (["--model", "tiny", "--steps", "0"], r"--steps: expected"),
])
def test_bad_input_is_named_and_nothing_is_written(settings, tmp_path, argv, message):
    out = tmp_path / "out"
    with pytest.raises(UserError, match=message):
        run_generate(settings, *argv, "--out", str(out))
    assert not out.exists()


def test_a_folder_missing_files_is_named(settings, tmp_path):
    shutil.rmtree(tmp_path / "models" / "tiny" / "scheduler")
    with pytest.raises(UserError, match="lacks scheduler/scheduler_config.json"):
        run_generate(settings, "--model", "tiny", "--out", str(tmp_path / "out"))


def test_unwritable_output_fails_before_sampling(settings, tmp_path):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(UserError, match=r"--out .*a-file/out: expected a folder we can write to"):
        run_generate(settings, "--model", "tiny", "--out", str(tmp_path / "a-file" / "out"))
    with pytest.raises(UserError, match=r"--out .*a-file: expected a folder, found a file"):
        run_generate(settings, "--model", "tiny", "--out", str(tmp_path / "a-file"))


def test_a_failure_while_sampling_leaves_no_partial_output(settings, tmp_path):
    out = tmp_path / "kept"
    out.mkdir()
    (out / "postcard_000.png").write_bytes(b"an earlier run")
    with pytest.raises(UserError, match="device 'toaster'"):
        run_generate(settings, "--model", "tiny", "--device", "toaster", "--out", str(out))
    assert [p.name for p in out.iterdir()] == ["postcard_000.png"]
    assert (out / "postcard_000.png").read_bytes() == b"an earlier run"
    with pytest.raises(UserError, match="device 'toaster'"):
        run_generate(settings, "--model", "tiny", "--device", "toaster", "--out", str(tmp_path / "new"))
    assert not (tmp_path / "new").exists()
