"""Preview grids during training, drawn by the engine's one sampling path with 20-step DPM-Solver++
(never the 1000 DDPM steps that made the tutorial's runs take hours)."""

from __future__ import annotations

SCHEDULER = "dpmsolver++"


def preview_postcards(unet, train_scheduler_config, *, n: int, steps: int, seed: int):
    """`n` postcards (uint8, n x H x W x 3) from `unet`, with a sampler made from the training config."""
    from engine.postcards.sample import sample
    from engine.postcards.schedulers import make_scheduler

    scheduler = make_scheduler(SCHEDULER, train_scheduler_config)
    return sample(unet, scheduler, n=n, steps=steps, seed=seed)


def to_grid(postcards):
    """A near-square PIL grid of the postcards (uint8 NHWC); a model that paints the animal's mask too
    (4 channels) shows each postcard followed by its mask in grey."""
    import math

    import numpy as np
    from PIL import Image

    from engine.postcards.generate import make_grid

    if postcards.shape[-1] == 3:
        return Image.fromarray(make_grid(postcards))
    rgb, mask = postcards[..., :3], np.repeat(postcards[..., 3:4], 3, axis=-1)
    pairs = np.stack([rgb, mask], axis=1).reshape(-1, *rgb.shape[1:])
    return Image.fromarray(make_grid(pairs, cols=2 * math.ceil(math.sqrt(len(postcards)))))


def preview_grid(unet, train_scheduler_config, *, n: int, steps: int, seed: int):
    return to_grid(preview_postcards(unet, train_scheduler_config, n=n, steps=steps, seed=seed))
