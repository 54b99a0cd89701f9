"""The super-resolution stage: its folder, the checks before loading, and upscaling (size, dtype, seeds, mask)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.errors import UserError
from engine.postcards import superres
from engine.postcards.superres import Settings, has_stage, load_stage, save_stage, upscale

SETTINGS = Settings(factor=4, condition_channels=3, residual_scale=0.2, start_strength=0.4, max_strength=0.7, steps=2)


def save_tiny_stage(folder: Path, settings: Settings = SETTINGS, seed: int = 0) -> Path:
    """A tiny random stage folder: attention-free UNet (8, 16), DPM-Solver++ scheduler, settings."""
    import torch
    from diffusers import DPMSolverMultistepScheduler, UNet2DModel

    torch.manual_seed(seed)
    unet = UNet2DModel(sample_size=32, in_channels=6, out_channels=3, block_out_channels=(8, 16), layers_per_block=1,
                       down_block_types=("DownBlock2D",) * 2, up_block_types=("UpBlock2D",) * 2,
                       add_attention=False, norm_num_groups=4)
    scheduler = DPMSolverMultistepScheduler(beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction",
                                            timestep_spacing="trailing")
    save_stage(folder, unet, scheduler, settings, dtype=torch.float16)
    return folder


@pytest.fixture(scope="module")
def stage_folder(tmp_path_factory) -> Path:
    return save_tiny_stage(tmp_path_factory.mktemp("model") / "superres")


@pytest.fixture(scope="module")
def stage(stage_folder):
    return load_stage(stage_folder)


def postcards(n: int, side: int = 16, channels: int = 3) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (n, side, side, channels), dtype=np.uint8)


def test_a_model_has_a_stage_when_its_folder_does(stage_folder):
    assert has_stage(stage_folder.parent)
    assert not has_stage(stage_folder)


def test_upscale_gives_the_factor_in_uint8(stage):
    out = upscale(postcards(2, 16), stage, seed=3)
    assert out.shape == (2, 64, 64, 3) and out.dtype == np.uint8
    assert upscale(postcards(1, 12), stage).shape == (1, 48, 48, 3)  # fully convolutional: any size


def test_same_seed_same_pixels_other_seed_other_pixels(stage):
    images = postcards(2)
    first, again, other = (upscale(images, stage, seed=s) for s in (5, 5, 6))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    # Postcard i draws from seed + i, whatever else is in the call.
    assert np.array_equal(upscale(images[1:], stage, seed=6)[0], first[1])


def test_the_stage_keeps_the_upsampled_picture(stage):
    """A random UNet adds a bounded residual: the result stays near the bicubic upsample, not noise."""
    flat = np.full((1, 16, 16, 3), 120, dtype=np.uint8)
    out = upscale(flat, stage, seed=0).astype(int)
    assert abs(out.mean() - 120) < 0.2 * 255


def test_a_mask_channel_is_upscaled_and_stays_binary(stage):
    images = postcards(1, 16, 4)
    images[..., 3] = 0
    images[0, 4:12, 4:12, 3] = 255
    out = upscale(images, stage)
    assert out.shape == (1, 64, 64, 4)
    assert set(np.unique(out[..., 3])) == {0, 255}
    assert out[0, 32, 32, 3] == 255 and out[0, 2, 2, 3] == 0


def test_a_stage_with_two_passes_runs_twice(tmp_path):
    """A 2x stage run twice: 16 px -> 64 px, the mask along, the same seed the same pixels."""
    octave = Settings(factor=2, condition_channels=3, residual_scale=0.2, start_strength=0.4, max_strength=0.7,
                      steps=2, passes=2)
    stage = load_stage(save_tiny_stage(tmp_path / "superres", octave))
    assert stage.factor == 4 and stage.settings.passes == 2
    images = postcards(2, 16, 4)
    out = upscale(images, stage, seed=1)
    assert out.shape == (2, 64, 64, 4) and set(np.unique(out[..., 3])) <= {0, 255}
    assert np.array_equal(out, upscale(images, stage, seed=1))


def test_a_stage_without_passes_runs_once(stage_folder, tmp_path):
    folder = tmp_path / "superres"
    shutil.copytree(stage_folder, folder)
    edit(folder, "superres.json", passes=None)  # stages written before passes existed
    assert load_stage(folder).settings.passes == 1


def test_strength_beyond_training_is_refused(stage):
    with pytest.raises(ValueError, match="strength"):
        upscale(postcards(1), stage, strength=0.9)


def edit(folder: Path, name: str, **changes) -> None:
    path = folder / name
    data = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("name, changes, message", [
    ("superres.json", {"factor": "four"}, r"superres\.json: key 'factor': expected int in \[2, 8\], found 'four'"),
    ("superres.json", {"factor": 16}, r"superres\.json: key 'factor'.*found 16"),
    ("superres.json", {"steps": None}, r"superres\.json: key 'steps': expected int, found no such key"),
    ("superres.json", {"passes": 4}, r"superres\.json: key 'passes': expected int in \[1, 3\], found 4"),
    ("superres.json", {"factor": 4, "passes": 2},
     r"superres\.json: key 'passes': expected factor \*\* passes at most 8, found 4 \*\* 2"),
    ("superres.json", {"start_strength": 0.9}, r"superres\.json: key 'start_strength': expected at most max_strength"),
    ("superres.json", {"residual_scale": True}, r"key 'residual_scale'"),
    ("unet/config.json", {"in_channels": 4},
     r"unet/config\.json: key 'in_channels': expected int in \[6, 6\], found 4"),
    ("unet/config.json", {"block_out_channels": [8, 100000]}, r"unet/config\.json: key 'block_out_channels'"),
    ("unet/config.json", {"down_block_types": ["DownBlock2D", "AttnDownBlock2D"]},
     r"unet/config\.json: key 'down_block_types': expected 2 attention-free blocks"),
    ("unet/config.json", {"norm_num_groups": 3}, r"key 'norm_num_groups': expected a divisor"),
    ("unet/config.json", {"_class_name": "UNet2DConditionModel"}, r"unet/config\.json: key '_class_name'"),
    ("scheduler/scheduler_config.json", {"_class_name": "LMSDiscreteScheduler"},
     r"scheduler_config\.json: key '_class_name': expected one of DDIMScheduler"),
    ("scheduler/scheduler_config.json", {"prediction_type": "flow"}, r"key 'prediction_type'"),
])
def test_a_bad_config_names_its_file_and_key(stage_folder, tmp_path, name, changes, message):
    folder = tmp_path / "superres"
    shutil.copytree(stage_folder, folder)
    edit(folder, name, **changes)
    with pytest.raises(UserError, match=message):
        load_stage(folder)


def test_broken_json_and_pickle_weights_are_refused(stage_folder, tmp_path):
    folder = tmp_path / "superres"
    shutil.copytree(stage_folder, folder)
    (folder / "superres.json").write_text("{factor: 4")
    with pytest.raises(UserError, match=r"superres\.json: expected JSON"):
        load_stage(folder)
    shutil.rmtree(folder)
    shutil.copytree(stage_folder, folder)
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    weights.rename(weights.with_suffix(".bin"))
    with pytest.raises(UserError, match=r"unet: expected diffusion_pytorch_model\.safetensors, found only "
                                        r"diffusion_pytorch_model\.bin \(pickle"):
        load_stage(folder)


def test_the_parameter_count_is_read_before_loading(stage_folder, tmp_path, monkeypatch):
    folder = tmp_path / "superres"
    shutil.copytree(stage_folder, folder)
    monkeypatch.setattr(superres, "MAX_PARAMS", 1000)
    with pytest.raises(UserError, match=r"expected at most 1,000 parameters, found [\d,]+"):
        load_stage(folder)


# ---- the engine uses the stage whenever the model has one ----------------------------------------------

@pytest.fixture
def model_with_stage(tmp_path, tiny_model) -> Path:
    folder = tmp_path / "models" / "tiny"
    shutil.copytree(tiny_model, folder)
    save_tiny_stage(folder / "superres")
    return folder


def test_generate_writes_postcards_at_the_stage_size(model_with_stage, tmp_path, capsys):
    import argparse

    from engine.cli import generate as job
    from engine.settings.config import load_config

    (tmp_path / "config.toml").write_text('[paths]\nmodels = "models"\n[logging]\nfile = ""\n')
    parser = argparse.ArgumentParser()
    job.configure(parser)
    for argv in (["--list"], ["--model", "tiny", "--n", "3", "--steps", "2", "--seed", "4", "--grid",
                              "--out", str(tmp_path / "out")]):
        args = parser.parse_args(argv)
        args.settings = load_config(tmp_path / "config.toml")
        assert job.run(args) == 0
    assert "tiny                 32 px -> 128 px" in capsys.readouterr().out
    from PIL import Image

    assert Image.open(tmp_path / "out" / "postcard_002.png").size == (128, 128)
    assert Image.open(tmp_path / "out" / "grid.png").size == (2 * 128, 2 * 128)


def test_the_maker_paints_finished_postcards_with_enlarged_previews(model_with_stage):
    from engine.postcards.maker import PostcardMaker, Recipe
    from engine.postcards.store import model_side

    assert model_side(model_with_stage) == 128
    maker = PostcardMaker("cpu")
    maker.use(Recipe(str(model_with_stage), "dpmsolver++", 3))
    assert maker.model.side == 128 and maker.model.superres.factor == 4
    (picture, previews, _), = maker.paint(seed=9)
    assert picture.shape == (128, 128, 3) and picture.dtype == np.uint8
    assert previews and all(p.shape == (128, 128, 3) for p in previews)
    again, = maker.paint(seed=9)
    assert np.array_equal(again[0], picture)


def test_a_model_side_counts_every_pass(model_with_stage):
    from engine.postcards.store import model_side

    edit(model_with_stage / "superres", "superres.json", factor=2, passes=3)
    assert model_side(model_with_stage) == 32 * 8


def test_a_model_with_a_bad_stage_is_refused_before_loading(model_with_stage):
    from engine.postcards.store import load_model

    edit(model_with_stage / "superres", "superres.json", factor=3.5)
    with pytest.raises(UserError, match=r"superres/superres\.json: key 'factor': expected int"):
        load_model(model_with_stage, "cpu")
