"""Training images: decoded and resized ONCE into a uint8 tensor, then augmented per batch on the device.

The tutorial this replaces decoded every JPEG every epoch; a few hundred photos at 128 px fit in ~25 MB, so
we keep them all in memory (on the GPU when there is one) and only crop and flip per batch.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import UserError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
# Stored squares are this much larger than the training size, so random crops have room to move.
MARGIN = 1.125


@dataclass
class ImageSet:
    pixels: "object"  # torch.uint8 tensor (N, 3, S, S), S = stored_size(resolution)
    source: str
    skipped: list[str] = field(default_factory=list)  # "path: why" for each unreadable file

    def __len__(self) -> int:
        return int(self.pixels.shape[0])


def stored_size(resolution: int) -> int:
    return int(round(resolution * MARGIN))


def square(image, size: int) -> np.ndarray:
    """RGB, short side scaled to `size`, centre-cropped to size x size, as uint8 (3, size, size)."""
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # Transparent parts go on white (what a viewer shows), not on whatever colour hides under alpha 0.
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    image = image.convert("RGB")
    image = ImageOps.fit(image, (size, size), method=Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8).transpose(2, 0, 1)


def _decode(path: Path, size: int) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        image.draft("RGB", (size, size))  # JPEG: let libjpeg scale down while decoding (much faster)
        image.load()
        return square(image, size)


def find_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def load_folder(folder: Path, resolution: int, threads: int | None = None) -> ImageSet:
    import torch

    paths = find_images(folder)
    if not paths:
        raise UserError(f"--data {folder}: expected image files ({', '.join(sorted(IMAGE_SUFFIXES))}, "
                        f"any case, nested folders are fine), found none")
    size = stored_size(resolution)

    def decode(path: Path):
        try:
            return _decode(path, size), None
        except Exception as e:  # PIL raises many kinds for a broken file; any of them means "skip it"
            return None, f"{path}: {type(e).__name__}: {e}"

    with ThreadPoolExecutor(max_workers=threads or os.cpu_count() or 1) as pool:  # PIL decodes without the GIL
        results = list(pool.map(decode, paths))
    arrays = [a for a, _ in results if a is not None]
    skipped = [why for _, why in results if why is not None]
    for why in skipped:
        log.warning("skipped unreadable image %s", why)
    if not arrays:
        raise UserError(f"--data {folder}: expected readable images, found {len(paths)} files and none could "
                        f"be decoded:\n  " + "\n  ".join(skipped[:20]))
    return ImageSet(torch.from_numpy(np.stack(arrays)), str(folder), skipped)


def load_hub_dataset(name: str, resolution: int) -> ImageSet:
    """A Hugging Face `datasets` name: its first image column, split 'train'."""
    import torch

    hint = f"pass a local folder of images instead, e.g. --data /path/to/photos"
    try:
        import datasets
    except ImportError:
        raise UserError(f"--data {name}: not a folder here; reading a dataset by name needs the `datasets` "
                        f"package (pip install 'postcards-jungle[datasets]'), or {hint}") from None
    try:
        dataset = datasets.load_dataset(name, split="train")
    except Exception as e:  # offline, unknown name, no such split: all mean "cannot use this name"
        reason = f"{type(e).__name__}: {e}".splitlines()[0][:300]
        raise UserError(f"--data {name}: not a folder here, and the dataset could not be loaded from the "
                        f"Hugging Face hub (offline or unknown name? {reason}); {hint}") from None
    columns = [c for c, f in dataset.features.items() if isinstance(f, datasets.Image)]
    if not columns:
        raise UserError(f"--data {name}: expected a dataset with an image column, found columns "
                        f"{list(dataset.features)}")
    size = stored_size(resolution)
    arrays, skipped = [], []
    for i, row in enumerate(dataset):
        try:
            arrays.append(square(row[columns[0]], size))
        except Exception as e:
            skipped.append(f"{name}[{i}]: {type(e).__name__}: {e}")
    if not arrays:
        raise UserError(f"--data {name}: expected readable images, found none")
    return ImageSet(torch.from_numpy(np.stack(arrays)), name, skipped)


def load_images(data: str, resolution: int, threads: int | None = None) -> ImageSet:
    path = Path(data).expanduser()
    if path.is_dir():
        return load_folder(path, resolution, threads)
    if path.exists():
        raise UserError(f"--data {data}: expected a folder of images or a `datasets` name, found a file")
    return load_hub_dataset(data, resolution)


def augment(stored, indices, resolution: int, generator, flip: bool = True):
    """Random crop to `resolution` and random horizontal flip, on whatever device `stored` lives.

    Returns float images in [-1, 1], (B, 3, resolution, resolution). All randomness comes from `generator`
    (a CPU generator), so a run is reproducible and resumable bit for bit.
    """
    import torch

    batch = stored[indices.to(stored.device)]
    n, room = batch.shape[0], stored.shape[-1] - resolution
    top = torch.randint(0, room + 1, (n,), generator=generator).to(stored.device)
    left = torch.randint(0, room + 1, (n,), generator=generator).to(stored.device)
    span = torch.arange(resolution, device=stored.device)
    rows = (top[:, None] + span)[:, None, :, None]  # (B, 1, R, 1)
    cols = (left[:, None] + span)[:, None, None, :]  # (B, 1, 1, R)
    batch = batch[torch.arange(n, device=stored.device)[:, None, None, None],
                  torch.arange(3, device=stored.device)[None, :, None, None], rows, cols]
    if flip:
        mirrored = torch.rand(n, generator=generator).to(stored.device) < 0.5
        batch = torch.where(mirrored[:, None, None, None], batch.flip(-1), batch)
    return batch.float().div_(127.5).sub_(1.0)
