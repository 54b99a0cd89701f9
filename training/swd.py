"""Sliced Wasserstein distance on Laplacian-pyramid patches: ProGAN's SWD (Karras et al. 2018, appendix D).

Each image becomes a Laplacian pyramid from its own resolution down to 16 px; from every level 128 random
7x7 neighbourhoods per image are taken as descriptors (7 x 7 x 3 = 147 numbers). The distance between two
sets of descriptors is the mean, over 512 random unit directions, of the 1-D Wasserstein-1 distance of their
projections (sort both, compare in order). Fine levels see texture and edges, the coarsest sees colour and
layout; the result is the average over levels. Lower is better; like the paper we quote it x 1e3.

One deliberate change from the paper's code: both sets are normalised per channel with the statistics of
the *reference* set (the paper normalises each set by its own), so a colour cast or a contrast change in the
generated set counts against it instead of being normalised away.

Needs no downloaded weights: only torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PATCH = 7
DESCRIPTORS_PER_IMAGE = 128
PROJECTIONS = 512
MIN_RESOLUTION = 16


@dataclass
class SWD:
    levels: dict[int, float]  # resolution of the pyramid level -> SWD x 1e3 there

    @property
    def mean(self) -> float:
        return float(np.mean(list(self.levels.values())))


def _blur(x, kernel):
    import torch.nn.functional as F

    c = x.shape[1]
    x = F.pad(x, (2, 2, 2, 2), mode="reflect")
    x = F.conv2d(x, kernel[None, None, :, None].expand(c, 1, 5, 1), groups=c)
    return F.conv2d(x, kernel[None, None, None, :].expand(c, 1, 1, 5), groups=c)


def laplacian_pyramid(images, levels: int) -> list:
    """(N, C, H, W) floats -> `levels` tensors: band-pass details from fine to coarse, then the low-pass rest."""
    import torch

    kernel = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=images.dtype) / 16
    pyramid, current = [], images
    for _ in range(levels - 1):
        smaller = _blur(current, kernel)[:, :, ::2, ::2]
        upsampled = torch.zeros_like(current)
        upsampled[:, :, ::2, ::2] = smaller * 4  # zero-insertion upsampling; x4 keeps the brightness
        pyramid.append(current - _blur(upsampled, kernel))
        current = smaller
    pyramid.append(current)
    return pyramid


def pyramid_levels(resolution: int) -> int:
    """How many levels a square image of `resolution` gets: halving down to 16 px, as in ProGAN."""
    levels = 1
    while resolution // 2 >= MIN_RESOLUTION:
        resolution //= 2
        levels += 1
    return levels


def descriptors(images: np.ndarray, generator) -> dict[int, object]:
    """uint8 (N, H, W, 3) images -> {level resolution: (N * 128, 3, 7, 7) random patches of that level}."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255
    n = x.shape[0]
    result = {}
    for level in laplacian_pyramid(x, pyramid_levels(x.shape[-1])):
        size = level.shape[-1]
        top = torch.randint(0, size - PATCH + 1, (n, DESCRIPTORS_PER_IMAGE, 1, 1), generator=generator)
        left = torch.randint(0, size - PATCH + 1, (n, DESCRIPTORS_PER_IMAGE, 1, 1), generator=generator)
        span = torch.arange(PATCH)
        image = torch.arange(n)[:, None, None, None]
        patches = level[image, :, top + span[:, None], left + span[None, :]]  # (N, 128, 7, 7, C)
        result[size] = patches.permute(0, 1, 4, 2, 3).reshape(-1, x.shape[1], PATCH, PATCH)
    return result


def sliced_wasserstein(a, b, generator) -> float:
    """SWD between two equally many descriptors (n, d), over 512 random unit directions."""
    import torch

    directions = torch.randn(PROJECTIONS, a.shape[1], generator=generator)
    directions /= directions.norm(dim=1, keepdim=True)
    # (512, n) rows, sorted along the row: numpy sorts a contiguous row ~2x faster than torch here.
    projected_a = np.sort((directions @ a.T).numpy(), axis=1)
    projected_b = np.sort((directions @ b.T).numpy(), axis=1)
    return float(np.abs(projected_a - projected_b).mean())


def swd(images: np.ndarray, reference: np.ndarray, seed: int = 0) -> SWD:
    """ProGAN SWD between uint8 (N, H, W, 3) `images` and `reference` (same resolution) at every pyramid level.

    The larger set is subsampled so both give equally many descriptors (the 1-D distances compare sorted
    projections one to one); compare sets of equal size when the numbers are to be compared with each other.
    """
    import torch

    if images.shape[1:] != reference.shape[1:]:
        raise ValueError(f"swd: expected images of one size, found {images.shape[1:]} and {reference.shape[1:]}")
    generator = torch.Generator().manual_seed(seed)
    ours, theirs = descriptors(images, generator), descriptors(reference, generator)
    levels = {}
    for size in ours:
        a, b = ours[size], theirs[size]
        mean = b.mean(dim=(0, 2, 3), keepdim=True)
        std = b.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-8)
        a, b = ((a - mean) / std).flatten(1), ((b - mean) / std).flatten(1)
        count = min(len(a), len(b))
        a = a[torch.randperm(len(a), generator=generator)[:count]]
        b = b[torch.randperm(len(b), generator=generator)[:count]]
        levels[size] = sliced_wasserstein(a, b, generator) * 1e3
    return SWD(levels)
