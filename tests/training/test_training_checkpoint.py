"""Checkpoints through accelerate: complete under their final name or not there at all, last N kept."""

from __future__ import annotations

import json
import shutil

import torch
from accelerate import Accelerator

from training import checkpoint


def saved_step(accelerator, out, step, model, keep=2):
    with torch.no_grad():
        model.weight.fill_(float(step))
    return checkpoint.save(accelerator, out, step, {"step": step}, keep)


def test_save_keeps_the_last_two_and_latest_finds_the_newest(tmp_path):
    accelerator = Accelerator(cpu=True)
    model = accelerator.prepare(torch.nn.Linear(3, 3))
    for step in (5, 10, 15):
        saved_step(accelerator, tmp_path, step, model)
    names = [p.name for p in checkpoint.complete_checkpoints(tmp_path)]
    assert names == ["checkpoint-00000010", "checkpoint-00000015"]
    path, meta = checkpoint.latest(tmp_path)
    assert meta == {"step": 15} and path.name == "checkpoint-00000015"

    accelerator.load_state(str(checkpoint.complete_checkpoints(tmp_path)[0]))
    assert torch.all(model.weight == 10.0)


def test_a_save_killed_half_way_leaves_the_last_good_checkpoint(tmp_path):
    accelerator = Accelerator(cpu=True)
    model = accelerator.prepare(torch.nn.Linear(3, 3))
    good = saved_step(accelerator, tmp_path, 5, model)
    # What a kill during the next save leaves: its temp folder, with or without some of the files.
    partial = checkpoint.folder_of(tmp_path) / ".tmp-checkpoint-00000010"
    shutil.copytree(good, partial)
    (partial / "meta.json").unlink()
    path, meta = checkpoint.latest(tmp_path)
    assert path == good and meta["step"] == 5
    checkpoint.remove_partial(tmp_path)
    assert not partial.exists() and good.exists()
    assert json.loads((good / "meta.json").read_text()) == {"step": 5}


def test_saving_the_same_step_again_replaces_it(tmp_path):
    accelerator = Accelerator(cpu=True)
    model = accelerator.prepare(torch.nn.Linear(3, 3))
    saved_step(accelerator, tmp_path, 7, model)
    saved_step(accelerator, tmp_path, 7, model)
    assert [p.name for p in checkpoint.complete_checkpoints(tmp_path)] == ["checkpoint-00000007"]
    assert not list(checkpoint.folder_of(tmp_path).glob(".tmp-*"))
