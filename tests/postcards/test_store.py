"""The model store: finding models by name or path, refusing pickles, loading on the right device and dtype."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from engine.errors import UserError
from engine.postcards.store import describe_model, list_models, load_model, pick_device, resolve_model


@pytest.fixture
def models(tmp_path, tiny_model):
    shutil.copytree(tiny_model, tmp_path / "tiny")
    (tmp_path / "notes").mkdir()  # a folder that is no model
    return tmp_path


def test_lists_only_model_folders(models, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    shutil.copytree(models / "tiny", elsewhere / "linked")
    (models / "linked").symlink_to(elsewhere / "linked")  # a link out is no model of this folder
    assert list_models(models) == ["tiny"]
    assert list_models(models / "nowhere") == []


def test_resolves_a_name_and_a_path(models):
    assert resolve_model("tiny", models) == (models / "tiny").resolve()
    assert resolve_model(str(models / "tiny"), models) == models / "tiny"


def test_unknown_model_lists_the_known_ones(models):
    with pytest.raises(UserError, match=r"'jungle'.*known models: tiny"):
        resolve_model("jungle", models)


def test_a_name_cannot_leave_the_models_folder(models):
    with pytest.raises(UserError, match="no slashes"):
        resolve_model("ti ny;rm", models)


def test_a_folder_missing_files_says_which(models):
    (models / "tiny" / "scheduler" / "scheduler_config.json").unlink()
    with pytest.raises(UserError, match=r"lacks scheduler/scheduler_config.json"):
        resolve_model("tiny", models)


def test_a_pickle_checkpoint_is_refused_with_the_reason(models):
    unet = models / "tiny" / "unet"
    weights = next(unet.glob("*.safetensors"))
    torch.save({"not": "loaded"}, unet / "diffusion_pytorch_model.bin")
    weights.unlink()
    for attempt in (lambda: resolve_model("tiny", models), lambda: load_model(models / "tiny", "cpu")):
        with pytest.raises(UserError, match=r"diffusion_pytorch_model.bin.*pickle files can run code"):
            attempt()


def test_loads_in_eval_mode_in_fp32_on_the_cpu(models):
    model = load_model(models / "tiny", "cpu")
    assert model.device == torch.device("cpu") and model.dtype == torch.float32
    assert not model.unet.training
    assert next(model.unet.parameters()).dtype == torch.float32
    assert model.resolution == 32 and model.name == "tiny"
    assert model.scheduler_config["num_train_timesteps"] == 1000


def test_describes_a_model_without_loading_it(models):
    (models / "tiny" / "training.json").write_text(json.dumps({"preset": "tiny"}))
    info = describe_model(models / "tiny")
    params = sum(p.numel() for p in load_model(models / "tiny", "cpu").unet.parameters())
    assert info == {"name": "tiny", "resolution": 32, "side": 32, "params": params, "preset": "tiny"}


def test_picks_a_device_that_exists():
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert pick_device("auto").type == expected
    assert pick_device("cpu") == torch.device("cpu")
    with pytest.raises(UserError, match="expected auto, cpu, cuda"):
        pick_device("toaster")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no cuda here"):
            pick_device("cuda")
