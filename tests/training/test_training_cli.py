"""The training command line: `postcards train` and `python -m training`, and the bad inputs they refuse."""

from __future__ import annotations

import argparse

import pytest
import torch

from engine.cli import main as postcards
from engine.errors import UserError
from training import cli
from training.__main__ import main
from test_training_loop import make_images, train_args


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.configure(parser)
    return parser.parse_args(list(argv))


def test_postcards_train_is_the_same_job(capsys):
    with pytest.raises(SystemExit) as e:
        postcards(["train", "--help"])
    assert e.value.code == 0
    assert "--resume" in capsys.readouterr().out


def test_a_bad_resolution_stops_the_cli_with_the_sizes_that_work(tmp_path, capsys):
    data = make_images(tmp_path / "data")
    code = postcards(["train", "--data", str(data), "--out", str(tmp_path / "m"), "--preset", "tiny",
                      "--resolution", "33"])
    assert code == 2
    err = capsys.readouterr().err
    assert "postcards train: --resolution: the tiny preset takes multiples of 2 (e.g. 32, 34" in err
    assert "Traceback" not in err


def test_an_existing_out_is_refused_unless_resume_or_overwrite(tmp_path, capsys):
    data, out = make_images(tmp_path / "data"), tmp_path / "model"
    out.mkdir()
    (out / "keep-me.txt").write_text("someone's work")
    assert main(train_args(data, out, "--epochs", "1")) == 2
    assert "--out" in capsys.readouterr().err and (out / "keep-me.txt").exists()
    assert main(train_args(data, out, "--epochs", "1", "--resume", "--overwrite")) == 2
    assert "expected one of them, found both" in capsys.readouterr().err
    assert main(train_args(data, out, "--epochs", "1", "--overwrite")) == 0
    assert not (out / "keep-me.txt").exists() and (out / "unet").is_dir()


def test_bad_data_with_overwrite_loses_nothing(tmp_path, capsys):
    out = tmp_path / "model"
    out.mkdir()
    (out / "keep-me.txt").write_text("the old model")
    (tmp_path / "empty").mkdir()
    assert main(train_args(tmp_path / "empty", out, "--overwrite")) == 2
    assert "found none" in capsys.readouterr().err and (out / "keep-me.txt").exists()


@pytest.mark.parametrize("flag, value", [("--batch", "0"), ("--epochs", "-1"), ("--time-limit", "0")])
def test_numbers_below_one_are_named(tmp_path, capsys, flag, value):
    data = make_images(tmp_path / "data")
    assert main(train_args(data, tmp_path / "m", flag, value)) == 2
    assert f"{flag}: expected a number above 0, found {value}" in capsys.readouterr().err


def test_out_of_memory_names_the_knob_to_turn(monkeypatch):
    # No GPU here: the training function raises what torch raises when CUDA runs out of memory.
    def out_of_gpu_memory(args):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr("training.loop.train", out_of_gpu_memory)
    args = parse("--data", "x", "--out", "y", "--preset", "base", "--batch", "64")
    with pytest.raises(UserError, match=r"out of GPU memory with --preset base, --batch 64.*lower --batch first "
                                        r"\(e\.g\. --batch 32\)"):
        cli.run(args)


def test_running_out_of_cpu_memory_names_the_knob_too(tmp_path):
    # A real allocation far beyond any machine: the CPU allocator refuses it at once.
    data = make_images(tmp_path / "data")
    args = parse(*train_args(data, tmp_path / "m", "--batch", str(2**40)))
    with pytest.raises(UserError, match="out of CPU memory .*lower --batch first"):
        cli.run(args)
