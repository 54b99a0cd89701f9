"""`python -m training.superres`: a tiny real run on made-up photos exports a loadable stage, resumes, and
refuses bad input with a message naming it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.postcards.superres import load_stage, upscale
from training.superres.__main__ import main

TINY = ["--crop", "32", "--channels", "8,16", "--groups", "4", "--batch", "2", "--threads", "1",
        "--sample-steps", "2", "--log-every", "1"]


def make_photos(folder: Path, n: int = 6, size: tuple[int, int] = (300, 270)) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size[1], 0:size[0]]
    for i in range(n):
        stripes = np.sin(x / (3 + i) + rng.uniform(0, 6)) * np.cos(y / (5 + i))
        rgb = np.stack([stripes, np.roll(stripes, 7, 1), -stripes], -1) * 100 + rng.uniform(60, 160, 3)
        Image.fromarray(rgb.clip(0, 255).astype(np.uint8)).save(folder / f"photo{i}.jpg", quality=92)
    return folder


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    return make_photos(tmp_path_factory.mktemp("data") / "photos")


def test_a_run_exports_a_stage_and_resumes(photos, tmp_path):
    out = tmp_path / "run"
    assert main(["--data", str(photos), "--out", str(out), "--steps", "3", "--checkpoint-every", "2",
                 "--holdout", "2", *TINY]) == 0
    stage = load_stage(out / "superres")
    assert stage.factor == 4 and stage.settings.steps == 2 and stage.settings.residual_scale > 0
    assert upscale(np.zeros((1, 8, 8, 3), np.uint8), stage).shape == (1, 32, 32, 3)
    assert Image.open(out / "preview.png").size == (3 * 256, 2 * 256)  # bicubic | stage | photo, 2 held out
    assert [p.name for p in sorted((out / "checkpoints").iterdir())] == ["checkpoint-00000002", "checkpoint-00000003"]

    assert main(["--data", str(photos), "--out", str(out), "--resume", "--steps", "5", "--threads", "1",
                 "--log-every", "1"]) == 0
    steps = [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5]
    assert (out / "checkpoints" / "checkpoint-00000005").is_dir()
    assert json.loads((out / "run.json").read_text())["crop"] == 32  # the first session's shape is kept


def test_a_two_pass_stage_learns_one_octave_from_the_scales_asked(photos, tmp_path):
    out = tmp_path / "run"
    assert main(["--data", str(photos), "--out", str(out), "--steps", "1", "--holdout", "0", "--factor", "2",
                 "--passes", "2", "--scales", "128,200", *TINY]) == 0
    stage = load_stage(out / "superres")
    assert (stage.settings.factor, stage.settings.passes, stage.factor) == (2, 2, 4)
    assert upscale(np.zeros((1, 8, 8, 3), np.uint8), stage).shape == (1, 32, 32, 3)
    assert json.loads((out / "run.json").read_text())["scales"] == [128, 200]


def test_a_full_out_folder_needs_resume_or_overwrite(photos, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["--data", str(photos), "--out", str(out), "--steps", "1", *TINY]) == 2
    assert "--out" in capsys.readouterr().err and (out / "keep.txt").read_text() == "mine"
    assert main(["--data", str(photos), "--out", str(out), "--resume", *TINY]) == 2
    assert "--resume: expected" in (err := capsys.readouterr().err) and "run.json" in err


def test_photos_too_small_are_named(tmp_path, capsys):
    data = make_photos(tmp_path / "small", n=3, size=(200, 180))
    assert main(["--data", str(data), "--out", str(tmp_path / "run"), "--holdout", "0", *TINY]) == 2
    err = capsys.readouterr().err
    assert "photo0.jpg" in err and "256 px" in err


def test_more_passes_than_a_stage_may_upscale_are_refused(photos, tmp_path, capsys):
    assert main(["--data", str(photos), "--out", str(tmp_path / "run"), *TINY, "--factor", "4", "--passes", "2"]) == 2
    assert "--factor 4 --passes 2: expected factor ** passes at most 8, found 16" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_crop_the_unet_cannot_halve_is_refused(photos, tmp_path, capsys):
    assert main(["--data", str(photos), "--out", str(tmp_path / "run"), *TINY, "--crop", "36"]) == 2
    assert "--crop 36: expected a multiple of 8" in capsys.readouterr().err
