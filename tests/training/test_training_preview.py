"""Preview grids: few-step DPM-Solver++ through the engine's sampler, deterministic for a seed."""

from __future__ import annotations

import numpy as np
import torch
from diffusers import DDPMScheduler

from training.presets import make_unet
from training.preview import preview_grid


def test_a_preview_grid_is_near_square_and_repeatable():
    torch.manual_seed(0)
    unet = make_unet("tiny", 32).eval()
    config = DDPMScheduler(num_train_timesteps=1000).config
    a = preview_grid(unet, config, n=5, steps=3, seed=1)
    b = preview_grid(unet, config, n=5, steps=3, seed=1)
    c = preview_grid(unet, config, n=5, steps=3, seed=2)
    assert a.size == (3 * 32, 2 * 32)  # 5 images: 3 columns, 2 rows
    assert np.array_equal(np.asarray(a), np.asarray(b)) and not np.array_equal(np.asarray(a), np.asarray(c))
    assert np.asarray(a)[32:, 64:].min() == 255  # the sixth cell is empty (white)


def test_a_model_that_paints_masks_shows_each_postcard_beside_its_mask():
    from training.preview import to_grid

    postcards = np.zeros((4, 8, 8, 4), dtype=np.uint8)
    postcards[..., 0] = 200  # red postcards
    postcards[..., 3] = 255  # all animal
    grid = np.asarray(to_grid(postcards))
    assert grid.shape == (2 * 8, 4 * 8, 3)  # 2 rows of (postcard, mask) pairs
    assert tuple(grid[0, 0]) == (200, 0, 0) and tuple(grid[0, 8]) == (255, 255, 255)
