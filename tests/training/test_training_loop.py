"""The training loop on generated images with the tiny preset: it learns, exports, and resumes bit for bit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.postcards.anchor import read as read_anchor
from training import checkpoint
from training.__main__ import main
from conftest import PROJECT

ROOT = PROJECT
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}


def make_images(folder: Path, n: int = 8) -> Path:
    """Smooth colour blobs: easy enough that a tiny UNet's loss falls within a few dozen steps."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:40] / 40.0
    for i in range(n):
        cx, cy = rng.random(2)
        colour = rng.random(3)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) * 8)[..., None] * colour
        Image.fromarray((blob * 255).astype(np.uint8)).save(folder / f"img{i}.png")
    return folder


def train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["--data", str(data), "--out", str(out), "--preset", "tiny", "--resolution", "32", "--batch", "4",
            "--preview-n", "4", "--preview-steps", "4", "--threads", "1", *extra]


def weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(folder / "unet" / "diffusion_pytorch_model.safetensors")


def test_loss_falls_and_the_export_loads_and_samples(tmp_path):
    import torch
    from diffusers import DDPMPipeline

    data, out = make_images(tmp_path / "data"), tmp_path / "model"
    assert main(train_args(data, out, "--epochs", "25", "--lr", "1e-3", "--log-every", "5")) == 0
    logged = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    lines = [line for line in logged if "loss" in line]
    assert lines[-1]["step"] == 50
    assert {"step", "epoch", "loss", "lr", "img_per_s", "peak_mem_bytes", "data_s", "train_s", "preview_s", "save_s"} <= set(lines[0])
    assert np.mean([l["loss"] for l in lines[-3:]]) < 0.5 * lines[0]["loss"]
    previews = [line for line in logged if "preview" in line]  # the final preview, with its colour figures
    assert previews[-1]["step"] == 50 and previews[-1]["colour_x1e3"] > 0 and 0 <= previews[-1]["cast_rate"] <= 1

    pipe = DDPMPipeline.from_pretrained(out)
    config = pipe.scheduler.config  # the recipe travels with the model, for every sampler's from_config
    assert config.num_train_timesteps == 1000 and config.prediction_type == "v_prediction"
    assert config.rescale_betas_zero_snr and config.timestep_spacing == "trailing"
    images = pipe(batch_size=2, num_inference_steps=3, generator=torch.Generator().manual_seed(0),
                  output_type="np").images
    assert images.shape == (2, 32, 32, 3) and np.isfinite(images).all()
    card = (out / "README.md").read_text()
    assert "tiny" in card and "50 steps" in card and "preview.png" in card
    assert (out / "preview.png").is_file() and (out / "previews" / "step-00000050.png").is_file()
    assert (out / "samples" / "postcard_000.png").is_file()  # a show's first picture (engine/postcards/cache.py)
    anchor = read_anchor(out)  # the photos' mean colours, for the samplers' colour anchor
    photos = [np.asarray(Image.open(p)).reshape(-1, 3).mean(axis=0) / 255 for p in sorted(data.iterdir())]
    assert anchor.down_to == 300 and "colour anchor" in card
    assert sorted(anchor.colours.sum(axis=1)) == pytest.approx(sorted(p.sum() for p in photos), abs=0.03)


def make_masks(images: Path, folder: Path) -> Path:
    """A binary mask per image (same name and size): a small white square, the animal, on black."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, path in enumerate(sorted(images.iterdir())):
        mask = np.zeros((40, 40), dtype=np.uint8)
        mask[4 + 3 * i:14 + 3 * i, 10:20] = 255
        Image.fromarray(mask).save(folder / path.name)
    return folder


def test_with_masks_the_model_paints_rgb_and_the_animals_mask(tmp_path):
    from diffusers import UNet2DModel

    data, out = make_images(tmp_path / "data"), tmp_path / "model"
    masks = make_masks(data, tmp_path / "masks")
    assert main(train_args(data, out, "--masks", str(masks), "--max-steps", "3", "--norm-groups", "8")) == 0
    unet = UNet2DModel.from_pretrained(out / "unet")
    assert unet.config.in_channels == unet.config.out_channels == 4 and unet.config.norm_num_groups == 8
    facts = json.loads((out / "training.json").read_text())
    assert facts["channels"] == 4 and facts["masks"] == str(masks) and facts["steps"] == facts["step_budget"] == 3
    assert Image.open(out / "preview.png").size == (4 * 32, 2 * 32)  # 4 postcards, each beside its mask
    assert "RGB + the animal's mask" in (out / "README.md").read_text()


def test_sigkill_then_resume_gives_the_same_weights_bit_for_bit(tmp_path):
    data = make_images(tmp_path / "data")
    common = ("--epochs", "12", "--checkpoint-every", "4", "--export-every", "100", "--preview-every", "100")
    whole = tmp_path / "whole"
    assert main(train_args(data, whole, *common)) == 0

    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "training", *train_args(data, killed, *common)]
    process = subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (killed / "checkpoints" / "checkpoint-00000008" / "meta.json").exists():
        assert process.poll() is None and time.monotonic() < deadline, "the run ended before its 2nd checkpoint"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / "unet").exists(), "killed too late: the run had already finished"

    assert main(train_args(data, killed, *common, "--resume")) == 0
    a, b = weights(whole), weights(killed)
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    log = [json.loads(line)["step"] for line in (killed / "train_log.jsonl").read_text().splitlines()]
    assert log[-1] == 24


def test_the_time_limit_stops_cleanly_with_a_checkpoint_and_an_export(tmp_path, capsys):
    data, out = make_images(tmp_path / "data"), tmp_path / "model"
    assert main(train_args(data, out, "--epochs", "100000", "--time-limit", "0.0001", "--log-every", "1")) == 0
    path, meta = checkpoint.latest(out)
    assert 1 <= meta["step"] < 10 and (out / "unet").is_dir()
    assert json.loads((out / "training.json").read_text())["steps"] == meta["step"]
    # 100000 epochs cannot finish in the time limit: the cosine would stay at its top, and the log says so
    assert "the LR will hardly decay" in capsys.readouterr().err


def test_resume_with_other_settings_is_refused(tmp_path, capsys):
    data, out = make_images(tmp_path / "data"), tmp_path / "model"
    assert main(train_args(data, out, "--epochs", "1")) == 0
    assert main(train_args(data, out, "--epochs", "2", "--resume", "--batch", "2")) == 2
    assert "batch was 4, now 2" in capsys.readouterr().err


def test_gradient_checkpointing_does_not_change_the_maths(tmp_path):
    data = make_images(tmp_path / "data")
    common = ("--epochs", "2", "--export-every", "100", "--preview-every", "100")
    assert main(train_args(data, tmp_path / "plain", *common)) == 0
    assert main(train_args(data, tmp_path / "recomputed", *common, "--gradient-checkpointing")) == 0
    a, b = weights(tmp_path / "plain"), weights(tmp_path / "recomputed")
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def test_two_processes_share_each_step_under_a_distributed_launcher(tmp_path):
    # The multi-GPU path (accelerate: gradient sync, reductions, one checkpoint), on 2 CPU processes with gloo.
    data, out = make_images(tmp_path / "data"), tmp_path / "model"
    command = [str(Path(sys.executable).parent / "torchrun"), "--nproc_per_node", "2", "-m", "training",
               *train_args(data, out, "--epochs", "3", "--batch", "2", "--checkpoint-every", "4")]
    done = subprocess.run(command, cwd=ROOT, env={**ENV, "ACCELERATE_USE_CPU": "1"}, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    path, meta = checkpoint.latest(out)
    assert meta["step"] == 6 and meta["run"]["processes"] == 2  # 8 images / (2 x 2) = 2 steps an epoch
    assert (path / "random_states_1.pkl").is_file()
    assert json.loads((out / "training.json").read_text())["images_seen"] == 24


def test_sigterm_stops_cleanly_with_a_checkpoint_and_an_export(tmp_path):
    data, out = make_images(tmp_path / "data"), tmp_path / "model"
    command = [sys.executable, "-m", "training",
               *train_args(data, out, "--epochs", "100000", "--checkpoint-every", "2", "--export-every", "100000")]
    process = subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 120
    while not checkpoint.latest(out):
        assert process.poll() is None and time.monotonic() < deadline, "no checkpoint came"
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err[-2000:]
    assert "stop requested" in err
    path, meta = checkpoint.latest(out)
    assert json.loads((out / "training.json").read_text())["steps"] == meta["step"] >= 2
