"""`postcards evaluate`: colour and SWD against the photos with their yardsticks, and the memorization check."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from engine.settings.config import load_config
from engine.errors import UserError
from training import evaluate
from training.card import write_card
from training.evaluate import memorization, thumbnails

from conftest import run_job
from test_training_card import FACTS_EXAMPLE
from test_swd import textures


@pytest.fixture(scope="module")
def photos():
    return textures(24, seed=5)


def test_thumbnail_correlation_ignores_brightness_and_contrast(photos):
    changed = np.clip(photos.astype(int) * 0.7 + 30, 0, 255).astype(np.uint8)
    same = (thumbnails(photos) * thumbnails(changed)).sum(1)
    assert same.min() > 0.99


def test_finds_copies_mirrored_copies_and_no_false_ones(photos):
    postcards = np.concatenate([photos[[3]], photos[[7], :, ::-1], textures(4, seed=99)])
    found = memorization(postcards, photos, threshold=0.95)
    copies = [(r["postcard"], r["photo"], r["mirrored"]) for r in found["near_copies"]]
    assert copies == [(0, 3, False), (1, 7, True)] or copies == [(1, 7, True), (0, 3, False)]
    assert len(found["closest"]) == 6 and found["postcard_nearest"]["max"] > 0.99


@pytest.fixture
def setup(tmp_path, tiny_model, photos):
    shutil.copytree(tiny_model, tmp_path / "models" / "tiny")
    (tmp_path / "config.toml").write_text('[paths]\nmodels = "models"\n[logging]\nfile = ""\n')
    (tmp_path / "photos").mkdir()
    for i, photo in enumerate(photos):
        Image.fromarray(photo).save(tmp_path / "photos" / f"{i:02d}.png")
    return load_config(tmp_path / "config.toml"), tmp_path


def run_evaluate(settings, *argv: str) -> int:
    return run_job(evaluate, settings, *argv)


def test_writes_a_report_and_pictures(setup, capsys):
    settings, folder = setup
    out = folder / "eval"
    assert run_evaluate(settings, "--model", "tiny", "--data", str(folder / "photos"), "--n", "12",
                        "--steps", "2", "--out", str(out)) == 0
    report = json.loads((out / "evaluation.json").read_text())
    swd = report["swd_x1e3"]
    assert set(swd["model_vs_photos"]["levels"]) == set(swd["photos_vs_photos"]["levels"]) == {"32", "16"}
    # An untrained model paints noise: far worse than the photos' own yardstick.
    assert swd["model_vs_photos"]["mean"] > 3 * swd["photos_vs_photos"]["mean"]
    assert report["memorization"]["near_copies"] == [] and len(report["memorization"]["closest"]) == 12
    assert Image.open(out / "memorization.png").size == (8 * 32, 2 * 32)  # the 8 closest pairs, 4 a row
    assert Image.open(out / "postcards.png").size == (4 * 32, 3 * 32)
    colour = report["colour"]
    assert colour["frechet_x1e3"]["postcards_vs_photos"] > colour["frechet_x1e3"]["photos_vs_photos"] > 0
    assert 0 <= colour["cast_rate"]["postcards"] <= 1 and colour["images_per_side"] == swd["images_per_side"]
    printed = capsys.readouterr().out
    assert "photos vs photos (yardstick)" in printed and "near-copies" in printed
    assert "colour distance" in printed and "cast rate" in printed


def test_a_models_mask_channel_is_left_out_of_the_scores(photos):
    painted = np.concatenate([photos, np.full(photos.shape[:3] + (1,), 255, np.uint8)], axis=-1)  # RGB + mask
    with_mask, without = evaluate.evaluate(painted, photos), evaluate.evaluate(photos, photos)
    assert with_mask["colour"] == without["colour"] and with_mask["swd_x1e3"] == without["swd_x1e3"]


def test_adds_its_figures_to_the_model_card(setup):
    settings, folder = setup
    model = folder / "models" / "tiny"
    with pytest.raises(UserError, match="--card: expected .*training.json"):
        run_evaluate(settings, "--model", "tiny", "--data", str(folder / "photos"), "--card", "--out", str(folder / "e"))
    assert not (folder / "e").exists()
    write_card(model, FACTS_EXAMPLE)
    run_evaluate(settings, "--model", "tiny", "--data", str(folder / "photos"), "--n", "4", "--steps", "1",
                 "--card", "--out", str(folder / "e"))
    card = (model / "README.md").read_text()
    assert "## Metrics" in card and "SWD x1e3, dpmsolver++-1" in card and "| 0 of 4 |" in card
    assert "colour distance x1e3, dpmsolver++-1" in card and "cast rate, dpmsolver++-1" in card


@pytest.mark.parametrize("argv, message", [
    (["--n", "0"], r"--n: expected a whole number of at least 1, found 0"),
    (["--scheduler", "lms"], r"'lms': expected one of"),
    (["--threshold", "1.5"], r"--threshold"),
    (["--model", "jungle"], r"known models: tiny"),
])
def test_bad_input_is_named_and_nothing_is_written(setup, argv, message):
    settings, folder = setup
    with pytest.raises(UserError, match=message):
        run_evaluate(settings, "--model", "tiny", "--data", str(folder / "photos"), "--out", str(folder / "eval"),
                     *argv)
    assert not (folder / "eval").exists()


def test_a_folder_without_photos_is_named(setup):
    settings, folder = setup
    (folder / "empty").mkdir()
    with pytest.raises(UserError, match="--data .*empty: expected image files"):
        run_evaluate(settings, "--model", "tiny", "--data", str(folder / "empty"), "--out", str(folder / "eval"))
    assert not (folder / "eval").exists()


def test_a_model_that_paints_masks_is_scored_on_its_colours_and_shows_its_masks(setup):
    import torch
    from diffusers import DDPMPipeline

    from training.objective import Objective
    from training.presets import make_unet

    settings, folder = setup
    torch.manual_seed(0)
    DDPMPipeline(unet=make_unet("tiny", 32, channels=4), scheduler=Objective().noise_scheduler()).save_pretrained(
        folder / "models" / "masked", safe_serialization=True)
    out = folder / "eval-masked"
    assert run_evaluate(settings, "--model", "masked", "--data", str(folder / "photos"), "--n", "4", "--steps", "2",
                        "--out", str(out)) == 0
    assert "colour" in json.loads((out / "evaluation.json").read_text())
    assert Image.open(out / "postcards.png").size == (4 * 32, 2 * 32)  # each postcard beside its mask
