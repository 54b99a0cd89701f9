"""Export: a DDPMPipeline folder that diffusers loads, replaced in place on every export."""

from __future__ import annotations

import numpy as np
import torch
from diffusers import DDPMPipeline, DDPMScheduler
from PIL import Image
from safetensors.torch import load_file

from test_training_card import FACTS_EXAMPLE
from training.export import export
from training.presets import make_unet


def test_export_writes_a_loadable_pipeline_with_card_and_preview(tmp_path):
    torch.manual_seed(0)
    unet = make_unet("tiny", 32)
    postcards = np.zeros((8, 32, 32, 4), np.uint8)
    postcards[..., 1] = np.arange(8)[:, None, None] * 10  # green tells the postcards apart; channel 4: a mask
    export(tmp_path, unet, DDPMScheduler(num_train_timesteps=1000), FACTS_EXAMPLE,
           Image.new("RGB", (10, 10), "green"), postcards)
    pipe = DDPMPipeline.from_pretrained(tmp_path)
    stored = load_file(tmp_path / "unet" / "diffusion_pytorch_model.safetensors")
    for name, value in unet.state_dict().items():  # stored in fp16, loaded as fp32
        assert stored[name].dtype == torch.float16 and torch.equal(stored[name], value.half())
        assert torch.equal(pipe.unet.state_dict()[name], value.half().float())
    assert next(unet.parameters()).dtype == torch.float32  # the model being trained keeps its precision
    assert (tmp_path / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    assert not list((tmp_path / "unet").glob("*.bin"))  # safetensors only
    assert "![samples](preview.png)" in (tmp_path / "README.md").read_text()
    assert np.asarray(Image.open(tmp_path / "preview.png"))[0, 0].tolist() == [0, 128, 0]
    samples = sorted((tmp_path / "samples").iterdir())  # what a show starts with (engine/postcards/cache.py)
    assert [p.name for p in samples] == [f"postcard_{i:03d}.png" for i in range(6)]
    assert [np.asarray(Image.open(p))[0, 0].tolist() for p in samples] == [[0, 10 * i, 0] for i in range(6)]


def test_a_second_export_replaces_the_first_and_leaves_nothing_behind(tmp_path):
    first, second = make_unet("tiny", 32), make_unet("tiny", 32)
    with torch.no_grad():
        for p in second.parameters():
            p.fill_(0.5)
    scheduler = DDPMScheduler(num_train_timesteps=1000)
    (tmp_path / "checkpoints").mkdir()  # what training keeps beside the model must survive an export
    export(tmp_path, first, scheduler, FACTS_EXAMPLE)
    export(tmp_path, second, scheduler, {**FACTS_EXAMPLE, "steps": 999})
    pipe = DDPMPipeline.from_pretrained(tmp_path)
    assert all(torch.all(p == 0.5) for p in pipe.unet.parameters())
    assert "999 steps" in (tmp_path / "README.md").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "README.md", "checkpoints", "model_index.json", "scheduler", "training.json", "unet"]
