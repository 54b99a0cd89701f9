"""Scale-out: `accelerate launch` with two processes runs two, or refuses with the command that would;
never silently one. Run with the real launcher, on CPU processes over gloo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import UserError
from training.machine import check_processes, launcher_processes
from test_training_loop import ENV, ROOT, make_images, train_args

ACCELERATE = str(Path(sys.executable).parent / "accelerate")


def launch(tmp_path, *launcher: str, env: dict) -> tuple[subprocess.CompletedProcess, Path]:
    data, out = make_images(tmp_path / "data"), tmp_path / "model"
    command = [ACCELERATE, "launch", *launcher, "--num_machines", "1", "--mixed_precision", "no",
               "--dynamo_backend", "no", "-m", "training",
               *train_args(data, out, "--max-steps", "2", "--batch", "2", "--preview-n", "2", "--preview-steps", "2")]
    return subprocess.run(command, cwd=ROOT, env={**ENV, **env}, capture_output=True, text=True, timeout=120), out


def test_accelerate_cpu_with_two_processes_is_refused_not_run_as_one(tmp_path):
    done, out = launch(tmp_path, "--cpu", "--num_processes", "2", env={})
    assert done.returncode != 0, done.stderr[-2000:]  # the launcher reports our exit status 2 as its 1
    assert "the launcher asked for 2 processes but this run has 1" in done.stderr
    assert "ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2" in done.stderr
    assert not (out / "unet").exists()


def test_two_cpu_processes_over_gloo_really_run_two(tmp_path):
    done, out = launch(tmp_path, "--multi_gpu", "--num_processes", "2", env={"ACCELERATE_USE_CPU": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    facts = json.loads((out / "training.json").read_text())
    assert facts["processes"] == 2 and facts["steps"] == 2 and facts["images_seen"] == 8  # 2 steps x 2 x 2


@pytest.mark.parametrize("cmdline, expected", [
    (["/venv/bin/python", "/venv/bin/accelerate", "launch", "--cpu", "--num_processes", "2", "-m", "training"], 2),
    (["accelerate", "launch", "--num-processes=3", "train.py"], 3),
    (["accelerate", "launch", "-m", "training"], None),  # the launcher's config decides; WORLD_SIZE tells
    (["python", "-m", "training", "--num_processes", "2"], None),  # not a launcher
])
def test_the_launchers_request_is_read_from_its_command_line(cmdline, expected):
    assert launcher_processes(cmdline) == expected


def test_a_mismatch_is_refused_and_a_match_passes():
    check_processes(2, 2)
    check_processes(1, None)
    with pytest.raises(UserError, match="asked for 4 processes but this run has 2"):
        check_processes(2, 4)
