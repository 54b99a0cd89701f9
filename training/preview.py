"""Preview grids during training, drawn by the engine's one sampling path with 20-step DPM-Solver++
(never the 1000 DDPM steps that made the tutorial's runs take hours)."""

from __future__ import annotations

SCHEDULER = "dpmsolver++"


def preview_grid(unet, train_scheduler_config, *, n: int, steps: int, seed: int):
    """A near-square PIL grid of `n` samples from `unet`, with a sampler made from the training config."""
    from PIL import Image

    from engine.postcards.generate import make_grid
    from engine.postcards.sample import sample
    from engine.postcards.schedulers import make_scheduler

    scheduler = make_scheduler(SCHEDULER, train_scheduler_config)
    return Image.fromarray(make_grid(sample(unet, scheduler, n=n, steps=steps, seed=seed)))
