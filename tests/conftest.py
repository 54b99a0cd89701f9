"""Shared test set-up: no network, no sound card, tiny real models.

Tests that need a JACK server or an X display are marked `jack` / `display` and skip with a reason when
none runs here; `make test` (and so CI) starts both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

# No hub downloads, no real sound card for pygame's own mixer, quiet pygame banner.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

PROJECT = Path(__file__).resolve().parent.parent


def jack_running() -> bool:
    if shutil.which("jack_lsp") is None:
        return False
    try:
        return subprocess.run(["jack_lsp"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def pytest_collection_modifyitems(config, items):
    no_jack = None if jack_running() else pytest.mark.skip(
        reason="no JACK server runs (`make test` starts one on the dummy driver)")
    no_display = None if os.environ.get("DISPLAY") else pytest.mark.skip(
        reason="no X display (`make test` runs under Xvfb)")
    for item in items:
        if no_jack and "jack" in item.keywords:
            item.add_marker(no_jack)
        if no_display and "display" in item.keywords:
            item.add_marker(no_display)


def save_tiny_model(folder: Path, sample_size: int = 32, seed: int = 0) -> Path:
    """A tiny random UNet2DModel + DDPMScheduler saved as a DDPMPipeline folder (safetensors)."""
    import torch
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

    torch.manual_seed(seed)
    unet = UNet2DModel(sample_size=sample_size, block_out_channels=(32, 64), layers_per_block=1,
                       down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "UpBlock2D"), norm_num_groups=8)
    DDPMPipeline(unet=unet, scheduler=DDPMScheduler(num_train_timesteps=1000)).save_pretrained(
        folder, safe_serialization=True)
    return Path(folder)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """Path of a tiny random model folder, made once per test session."""
    return save_tiny_model(tmp_path_factory.mktemp("models") / "tiny")
