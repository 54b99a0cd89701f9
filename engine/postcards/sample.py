"""The sampling loop: noise to postcards with any diffusers scheduler, deterministic per postcard.

Postcard i of a call starts from noise drawn by its own CPU generator seeded `seed + i`, and the same
generators feed a stochastic scheduler's noise (DDPM), so a postcard does not depend on how many were made
with it, and the same seed on the same device gives the same pixels. A morph (engine/postcards/morph.py)
hands in its own starting noise, and a dream a picture to start part of the way down from. A model with a
colour anchor (engine/postcards/anchor.py) gives each postcard the mean colour of a photo, drawn by seed.

Every postcard is painted on a canvas `margin(unet)` pixels taller and wider than the model's size, and its
top rows and right columns are dropped: the UNets trained here leave their top-right corner unconverged (a
patch of raw noise, 35 of 50 postcards of the 128 px default; docs/benchmarks.md, "A 128 px base"), which
the extra cell of the coarsest level moves off the postcard.
"""

from __future__ import annotations

import inspect
from typing import Callable

import numpy as np

# on_step(step_index, total_steps, preview): preview is the current guess of the finished postcards
OnStep = Callable[[int, int, np.ndarray], None]


def to_uint8(images) -> np.ndarray:
    """(n, 3, H, W) floats in [-1, 1] -> (n, H, W, 3) uint8."""
    import torch

    images = (images.float() / 2 + 0.5).clamp(0, 1).mul(255).round().to("cpu", dtype=torch.uint8)
    return images.permute(0, 2, 3, 1).numpy()


def postcard_size(unet) -> tuple[int, int]:
    size = unet.config.sample_size
    return tuple(size) if isinstance(size, (list, tuple)) else (size, size)


def margin(unet) -> int:
    """Pixels the canvas has beyond the postcard, on top and on the right: one cell of the coarsest level."""
    return 2 ** (len(unet.config.block_out_channels) - 1)


def start_noise(unet, n: int, seed: int):
    """The starting noise of postcards seed..seed+n-1 (float32, on the CPU, canvas-sized), as `sample` draws it."""
    import torch
    from diffusers.utils.torch_utils import randn_tensor

    height, width = postcard_size(unet)
    canvas = (height + margin(unet), width + margin(unet))
    generators = [torch.Generator("cpu").manual_seed(seed + i) for i in range(n)]
    return randn_tensor((n, unet.config.in_channels, *canvas), generator=generators, dtype=torch.float32), generators


def sample(unet, scheduler, *, n: int, steps: int, seed: int, device=None, on_step: OnStep | None = None,
           noise=None, image=None, strength: float = 1.0, anchor=None, colours=None) -> np.ndarray:
    """`n` postcards as uint8 (n, H, W, 3) from `unet` in `steps` steps of `scheduler` (its state is reset).

    `noise`: canvas-sized starting noise to use instead of the seeds' own (the seeds still drive a stochastic
    sampler's noise); `image` ((n, 3, H, W) in [-1, 1]) with `strength` < 1: start from that picture noised to
    `strength` of the way and run only the last `strength` of the steps. `anchor` (the model's ColourAnchor):
    the postcards take the mean colours `colours` ((n, 3) in [-1, 1]; default: the anchor's picks for the
    seeds) in the early steps; a start from `image` keeps its own colours."""
    import torch
    import torch.nn.functional as F

    from engine.postcards.anchor import steer

    if n <= 0:
        raise ValueError(f"n: expected at least 1 postcard, found {n}")
    if steps <= 0:
        raise ValueError(f"steps: expected at least 1, found {steps}")
    device = torch.device(device) if device is not None else unet.device
    drawn, generators = start_noise(unet, n, seed)
    noise = (drawn if noise is None else noise).to(device)
    extra, (height, width) = margin(unet), postcard_size(unet)

    def postcards(canvas):
        return to_uint8(canvas[:, :, extra:extra + height, :width])

    step_kwargs = {"generator": generators} if "generator" in inspect.signature(scheduler.step).parameters else {}

    scheduler.set_timesteps(steps, device=device)
    timesteps = scheduler.timesteps
    if image is None or strength >= 1.0:
        x = noise * scheduler.init_noise_sigma
    else:
        begin = len(timesteps) - max(1, round(len(timesteps) * strength))
        timesteps = timesteps[begin:]
        if hasattr(scheduler, "set_begin_index"):  # multistep solvers count their steps from here
            scheduler.set_begin_index(begin)
        image = F.pad(image.to(device, torch.float32), (0, extra, extra, 0), mode="reflect")  # onto the canvas
        x = scheduler.add_noise(image, noise, timesteps[:1])
        anchor = None
    if anchor is not None and colours is None:
        colours = anchor.pick(seed, n)
    prediction = scheduler.config.get("prediction_type", "epsilon")
    total = len(timesteps)
    with torch.inference_mode():
        for i, t in enumerate(timesteps):
            model_input = scheduler.scale_model_input(x, t).to(unet.dtype)
            noise_pred = unet(model_input, t).sample.float()  # scheduler maths stays in fp32
            if anchor is not None and anchor.holds(t):
                noise_pred = steer(noise_pred, model_input.float(), t, colours, scheduler.alphas_cumprod, prediction)
            out = scheduler.step(noise_pred, t, x, **step_kwargs)
            x = out.prev_sample
            if on_step is not None:
                guess = getattr(out, "pred_original_sample", None)
                on_step(i, total, postcards(guess if guess is not None else x))
    return postcards(x)
