"""Preview grids during training: a few-step DPM-Solver++ sampler, never 1000 DDPM steps."""

from __future__ import annotations

import math

import numpy as np


def sample_images(unet, train_scheduler_config, *, n: int, steps: int, seed: int) -> np.ndarray:
    """`n` samples as uint8 (n, H, W, 3), with DPM-Solver++ made from the training scheduler's config."""
    import torch
    from diffusers import DPMSolverMultistepScheduler

    scheduler = DPMSolverMultistepScheduler.from_config(train_scheduler_config, algorithm_type="dpmsolver++")
    scheduler.set_timesteps(steps)
    device = unet.device
    size = unet.config.sample_size
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn((n, 3, size, size), generator=generator).to(device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    with torch.inference_mode(), autocast:
        for t in scheduler.timesteps:
            x = scheduler.step(unet(x, t).sample.float(), t, x).prev_sample
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def grid(images: np.ndarray, columns: int | None = None):
    """A PIL image laying out uint8 (n, H, W, 3) images in rows, 2 px apart."""
    from PIL import Image

    n, h, w, _ = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    pad = 2
    canvas = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, 3), 255, np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        canvas[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = image
    return Image.fromarray(canvas)
