"""Postcards that grow into each other, and postcards that dream.

Morph: the in-between pictures of two postcards painted from in-between noise. Each postcard starts from
its seed's noise; spherical interpolation (slerp) of the two noises keeps every in-between as "noisy" as
real noise (a straight average of two noises is too quiet and paints a grey blur), so each in-between is
a postcard the model could have painted, on the way from one to the other. Same model, sampler and steps
as the two postcards, all in one batch. With DDIM, DPM-Solver++ or UniPC the in-betweens change smoothly;
with DDPM (stochastic) each also draws its own step noise (seeds after the first), a little more restless.
The compositor blends from one painted in-between to the next, so a few of them (the maker paints as many
as a reveal keeps guesses) make a smooth transition on a CPU.

Dream: the current postcard zoomed and panned a little, noised part of the way back (`strength`) and
painted again from there in a few steps; again and again, the jungle slowly rearranges itself.
"""

from __future__ import annotations

import math

import numpy as np

DREAM_STRENGTH = 0.35     # how far back towards noise a dream step goes (0 none, 1 a new postcard)
DREAM_ZOOM = 1.04         # each dream step looks this much closer


def slerp(a, b, t: float):
    """Spherical interpolation of two noise tensors, per picture (torch tensors, same shape)."""
    import torch

    flat_a, flat_b = a.flatten(1), b.flatten(1)
    cos = (flat_a * flat_b).sum(1) / (flat_a.norm(dim=1) * flat_b.norm(dim=1)).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    sin = torch.sin(omega)
    near = sin.abs() < 1e-6  # (almost) the same direction: a straight line is as good and stays finite
    wa = torch.where(near, 1 - t, torch.sin((1 - t) * omega) / sin.where(~near, torch.ones_like(sin)))
    wb = torch.where(near, t, torch.sin(t * omega) / sin.where(~near, torch.ones_like(sin)))
    shape = (-1,) + (1,) * (a.dim() - 1)
    return wa.view(shape) * a + wb.view(shape) * b


def morph_positions(count: int) -> list[float]:
    """Where between the two postcards (0..1, ends excluded) the in-betweens lie."""
    return [(k + 1) / (count + 1) for k in range(count)]


def morph(maker, seed_a: int, seed_b: int, count: int) -> list[np.ndarray]:
    """`count` in-between pictures (H, W, 3) uint8 from postcard `seed_a` to postcard `seed_b`, painted with
    the maker's current recipe (the recipe the two postcards were painted with)."""
    from engine.postcards.sample import sample, start_noise

    import torch

    unet = maker.model.unet
    a, _ = start_noise(unet, 1, seed_a)
    b, _ = start_noise(unet, 1, seed_b)
    positions = morph_positions(count)
    noise = torch.cat([slerp(a, b, t) for t in positions])
    anchor, colours = maker.model.anchor, None
    if anchor is not None:  # the overall colour travels from one postcard's to the other's too
        colour_a, colour_b = anchor.pick(seed_a, 1), anchor.pick(seed_b, 1)
        colours = torch.cat([torch.lerp(colour_a, colour_b, t) for t in positions])
    # One batch: on a GPU the in-betweens cost about what one postcard does (a small UNet leaves it idle).
    return list(sample(unet, maker.scheduler, n=count, steps=maker.recipe.steps, seed=seed_a,
                       device=maker.model.device, noise=noise, anchor=anchor, colours=colours))


def dream(maker, picture: np.ndarray, seed: int, strength: float = DREAM_STRENGTH,
          zoom: float = DREAM_ZOOM) -> np.ndarray:
    """A dream of `picture` (H, W, 3) uint8: zoomed by `zoom` towards a point that wanders with `seed` (so
    a dream of a dream pans on), re-noised to `strength` with the noise of `seed`, and painted again over
    the last `strength` of the recipe's steps."""
    import torch

    from engine.postcards.sample import sample

    h, w = picture.shape[:2]
    image = torch.from_numpy(picture).permute(2, 0, 1)[None].float() / 127.5 - 1.0
    # A crop 1/zoom the size, its centre circling slowly around the middle, scaled back up.
    ch, cw = max(1, round(h / zoom)), max(1, round(w / zoom))
    angle = seed * 0.7
    y = round((h - ch) / 2 * (1 + 0.8 * math.sin(angle)))
    x = round((w - cw) / 2 * (1 + 0.8 * math.cos(angle)))
    image = torch.nn.functional.interpolate(image[:, :, y:y + ch, x:x + cw], size=(h, w), mode="bicubic",
                                            align_corners=False).clamp(-1, 1)
    return sample(maker.model.unet, maker.scheduler, n=1, steps=maker.recipe.steps, seed=seed,
                  device=maker.model.device, image=image, strength=strength)[0]
