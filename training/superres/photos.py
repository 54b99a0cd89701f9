"""The super-resolution stage's data: the photos at a few postcard scales, random crops, and their low-res twin.

A postcard of S px shows a whole photo (or, with multi-scale training of the base model, part of one) at S px,
so the detail the stage must paint is the detail of photos whose short side is about 256-512 px. Each photo
is decoded once at those scales (never enlarged) and kept in memory as uint8; a batch is a set of random crops
with flips. The low-res twin is what a postcard looks like: the crop shrunk by the factor (box or antialiased
bicubic filter), sometimes slightly blurred or noisy, rounded to 8 bits; its bicubic upsample is the stage's
condition. The random degradations teach the stage to treat a generated postcard's grain as grain.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from engine.errors import UserError

SCALES = (256, 384, 512)   # short sides the photos are stored at
BLUR_SIGMA = (0.3, 1.0)    # low-res pixels, for half of the conditions
NOISE_SIGMA = 0.04         # at most, in [-1, 1] units, for half of the conditions


def photo_paths(folder: Path) -> list[Path]:
    from training.data import find_images

    paths = find_images(Path(folder))
    if not paths:
        raise UserError(f"--data {folder}: expected a folder of photos (jpg/jpeg/png/webp), found none")
    return paths


def split(paths: list[Path], holdout: int) -> tuple[list[Path], list[Path]]:
    """(training photos, `holdout` photos spread evenly through the sorted list, never trained on)."""
    if holdout <= 0:
        return paths, []
    if holdout >= len(paths) // 2:
        raise UserError(f"--holdout {holdout}: expected fewer than half of the {len(paths)} photos")
    step = len(paths) / holdout
    held = {int(i * step + step / 2) for i in range(holdout)}
    return [p for i, p in enumerate(paths) if i not in held], [p for i, p in enumerate(paths) if i in held]


def _decode(path: Path, scales: tuple[int, ...]) -> list:
    """One photo as uint8 (3, H, W) tensors, short side at each scale it reaches without enlarging."""
    import numpy as np
    import torch
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image).convert("RGB")
        short = min(image.size)
        out = []
        for scale in scales:
            if scale > short:
                continue
            w, h = (round(d * scale / short) for d in image.size)
            resized = image.resize((w, h), Image.Resampling.LANCZOS) if scale != short else image
            out.append(torch.from_numpy(np.asarray(resized, dtype=np.uint8).transpose(2, 0, 1).copy()))
        return out


def load(paths: list[Path], crop: int, scales: tuple[int, ...] = SCALES, threads: int | None = None) -> list:
    """Every photo at every scale as uint8 (3, H, W) tensors; a photo smaller than `crop` at all of them is an
    error naming it (the crops would not fit)."""
    def decode(path):
        try:
            return path, _decode(path, scales), None
        except Exception as e:  # PIL has many kinds of "cannot read this"
            return path, [], f"{type(e).__name__}: {e}"

    with ThreadPoolExecutor(max_workers=threads or os.cpu_count() or 1) as pool:
        results = list(pool.map(decode, paths))
    images = []
    for path, views, why in results:
        if why is not None:
            raise UserError(f"{path}: expected a readable image, found {why}")
        views = [v for v in views if min(v.shape[1:]) >= crop]
        if not views:
            raise UserError(f"{path}: expected a photo whose short side reaches {min(scales)} px and holds a "
                            f"{crop} px crop, found a smaller one")
        images.extend(views)
    return images


def squares(paths: list[Path], side: int):
    """Whole photos as postcards see them: centre square, Lanczos to `side`, uint8 (n, side, side, 3)."""
    import numpy as np
    from PIL import Image, ImageOps

    out = []
    for path in paths:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image).convert("RGB")
            out.append(np.asarray(ImageOps.fit(image, (side, side), method=Image.Resampling.LANCZOS)))
    return np.stack(out)


def crops(images: list, n: int, size: int, generator, device, flip: bool = True):
    """`n` random `size` px crops (random photo and scale, random flip) as floats in [-1, 1] on `device`."""
    import torch

    picks = torch.randint(0, len(images), (n,), generator=generator).tolist()
    batch = []
    for i in picks:
        image = images[i]
        top = int(torch.randint(0, image.shape[1] - size + 1, (1,), generator=generator))
        left = int(torch.randint(0, image.shape[2] - size + 1, (1,), generator=generator))
        piece = image[:, top:top + size, left:left + size]
        if flip and bool(torch.rand(1, generator=generator) < 0.5):
            piece = piece.flip(-1)
        batch.append(piece)
    return torch.stack(batch).to(device).float().div_(127.5).sub_(1.0)


def shrink(images, factor: int, bicubic: bool):
    import torch.nn.functional as F

    if bicubic:
        return F.interpolate(images, scale_factor=1 / factor, mode="bicubic", antialias=True, align_corners=False)
    return F.avg_pool2d(images, factor)


def blur(images, sigmas):
    """Gaussian blur with one sigma per image (5x5 kernel, reflect padding)."""
    import torch
    import torch.nn.functional as F

    n, c, h, w = images.shape
    taps = torch.arange(-2, 3, device=images.device, dtype=images.dtype)
    kernel = torch.exp(-taps[None, :] ** 2 / (2 * sigmas[:, None] ** 2))
    kernel = kernel / kernel.sum(dim=1, keepdim=True)                       # (n, 5)
    kernel2d = (kernel[:, :, None] * kernel[:, None, :]).repeat_interleave(c, dim=0)[:, None]  # (n*c, 1, 5, 5)
    padded = F.pad(images.reshape(1, n * c, h, w), (2, 2, 2, 2), mode="reflect")
    return F.conv2d(padded, kernel2d, groups=n * c).reshape(n, c, h, w)


def low_res(hi, factor: int, generator):
    """What a postcard of this crop looks like: shrunk, perhaps blurred or noisy, rounded to 8 bits."""
    import torch

    n = hi.shape[0]
    bicubic = bool(torch.rand(1, generator=generator) < 0.5)
    low = shrink(hi, factor, bicubic)
    blurred = torch.rand(n, generator=generator) < 0.5
    sigmas = torch.empty(n).uniform_(*BLUR_SIGMA, generator=generator)
    low = torch.where(blurred.to(hi.device)[:, None, None, None], blur(low, sigmas.to(hi.device)), low)
    noisy = (torch.rand(n, generator=generator) < 0.5).float() * torch.rand(n, generator=generator) * NOISE_SIGMA
    low = low + torch.randn(low.shape, generator=generator).to(hi.device) * noisy.to(hi.device)[:, None, None, None]
    return ((low.clamp(-1, 1) + 1) * 127.5).round().div(127.5).sub(1)
