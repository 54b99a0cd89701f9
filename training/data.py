"""Training images: every photo decoded ONCE and kept at its own size; crops and flips made per batch on the device.

The tutorial this replaces decoded every JPEG every epoch. A few hundred photos with a short side of 512 px
fit in ~220 MB (uint8), so we keep them all in memory, each at its own aspect ratio, and cut random crops at
several scales from them per batch: 203 photos give many distinct views. With `masks`, each photo carries
the mask of its hidden animal as a fourth channel (255 = animal), cropped and flipped with it, and crops are
drawn so that they mostly keep the animal in the frame.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from engine.errors import UserError
from training.masks import MaskReport, find_mask, normalise, read_mask

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
# Centre squares (ImageSet.pixels: what evaluation compares with) are this much larger than the training size.
MARGIN = 1.125
MIN_SCALE = 0.4  # a crop's side is drawn between this share of its photo's short side and all of it
TRIES = 8  # crop candidates drawn per crop; the first keeping half the animal wins (1: no preference)
KEEP = 0.5  # the share of the animal a crop should keep
CELL = 8  # pixels per cell of the coarse animal map that scores candidates


def stored_size(resolution: int) -> int:
    return int(round(resolution * MARGIN))


def default_short_side(resolution: int) -> int:
    """Photos are kept with their short side at most this: room for crops at 40 % that are still sharp."""
    return max(4 * resolution, 512)


@dataclass
class ImageSet:
    photos: list  # torch.uint8 (C, H, W) per photo at its own size, short side <= the cap; C = 4 with masks
    pixels: "object"  # torch.uint8 (N, C, S, S): the photos' centre squares, S = stored_size(resolution)
    source: str
    skipped: list[str] = field(default_factory=list)  # "path: why" for each photo left out
    names: list[str] = field(default_factory=list)  # each photo's path inside the data folder
    masks: MaskReport | None = None  # how the masks were read, when there are masks
    # Worked out on first use, on the CPU: each photo's (height, width); the animal maps' summed-area tables.
    _sizes_table: object = field(default=None, init=False, repr=False, compare=False)
    _animal: object = field(default=None, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.photos)

    @property
    def device(self):
        return self.pixels.device

    @property
    def channels(self) -> int:
        return int(self.pixels.shape[1])

    def to(self, device) -> "ImageSet":
        return replace(self, photos=[p.to(device) for p in self.photos], pixels=self.pixels.to(device))

    def crop_boxes(self, indices, generator, tries: int = TRIES):
        """Where crops of the photos at `indices` lie: (top, left, side) each (n,) int64, mirrored (n,) bool,
        and the share of each photo's animal inside its crop (1 where there is no mask or no animal).

        A fixed number of numbers is drawn from `generator` whatever the photos are, so the draws of later
        steps never depend on earlier ones (a resumed run sees the same crops)."""
        import torch

        index = torch.as_tensor(indices).cpu().long()
        n = len(index)
        draws = torch.rand((n, tries, 3), generator=generator, dtype=torch.float64)
        mirrored = torch.rand(n, generator=generator) < 0.5
        height, width = self._sizes()[index].unbind(1)
        short = torch.minimum(height, width)[:, None]
        side = (short * (MIN_SCALE + (1 - MIN_SCALE) * draws[..., 0])).floor().clamp(min=1)
        top = (draws[..., 1] * (height[:, None] - side + 1)).floor()
        left = (draws[..., 2] * (width[:, None] - side + 1)).floor()
        kept = self._animal_kept(index, top, left, side)
        good = kept >= KEEP
        choice = torch.where(good.any(1), good.int().argmax(1), kept.argmax(1))[:, None]
        pick = lambda t: t.gather(1, choice)[:, 0]  # noqa: E731
        return pick(top).long(), pick(left).long(), pick(side).long(), mirrored, pick(kept)

    def crops(self, indices, size: int, generator, flip: bool = True, tries: int = TRIES):
        """Random square crops (side 40-100 % of the short side) of the photos at `indices`, resized to `size`
        (antialiased), mirrored at random when `flip`: uint8 (n, C, size, size) on this set's device.
        All randomness comes from `generator` (a CPU generator)."""
        import torch

        top, left, side, mirrored, _ = self.crop_boxes(indices, generator, tries)
        out = torch.empty((len(top), self.channels, size, size), dtype=torch.uint8, device=self.device)
        for i, (photo, y, x, s) in enumerate(zip(self._pick(indices), top.tolist(), left.tolist(), side.tolist())):
            out[i] = resize(photo[None, :, y:y + s, x:x + s], size)[0]  # crops differ in size: one call each
        if flip:
            mirrored = mirrored.to(self.device)[:, None, None, None]
            out = torch.where(mirrored, out.flip(-1), out)
        return out

    def animal_in_frame(self, tries: int = TRIES, n: int = 4096) -> float:
        """The share of `n` crops (drawn from a fixed seed, apart from any run's) that keep at least half of
        their photo's animal, over the photos that have one."""
        import torch

        if self.channels < 4:
            return 1.0
        has = self._animal_tables()[1] > 0
        if not has.any():
            return 1.0
        generator = torch.Generator().manual_seed(0)
        indices = torch.nonzero(has)[:, 0][torch.randint(0, int(has.sum()), (n,), generator=generator)]
        return float((self.crop_boxes(indices, generator, tries)[4] >= KEEP).float().mean())

    def _pick(self, indices):
        import torch

        return [self.photos[i] for i in torch.as_tensor(indices).tolist()]

    def _sizes(self):
        import torch

        if self._sizes_table is None:
            self._sizes_table = torch.tensor([p.shape[1:] for p in self.photos], dtype=torch.float64)
        return self._sizes_table

    def _animal_kept(self, index, top, left, side):
        """The share of each photo's animal inside each candidate box, from summed-area tables of a coarse
        animal map (cells of CELL px; box edges rounded to cells)."""
        import torch

        if self.channels < 4:
            return torch.ones_like(side)
        tables, totals = self._animal_tables()
        tables, totals = tables[index], totals[index]
        y0, x0 = (top / CELL).round().long(), (left / CELL).round().long()
        y1, x1 = ((top + side) / CELL).round().long(), ((left + side) / CELL).round().long()
        at = lambda y, x: tables[torch.arange(len(index))[:, None], y, x]  # noqa: E731
        inside = at(y1, x1) - at(y0, x1) - at(y1, x0) + at(y0, x0)
        return torch.where(totals[:, None] > 0, inside / totals[:, None].clamp(min=1e-9), torch.ones_like(inside))

    def _animal_tables(self):
        import torch
        import torch.nn.functional as F

        if self._animal is None:
            cells = []
            for photo in self.photos:
                mask = photo[3].cpu().double()[None, None] / 255
                h, w = mask.shape[-2:]
                mask = F.pad(mask, (0, -w % CELL, 0, -h % CELL))
                cells.append(F.avg_pool2d(mask, CELL, divisor_override=1)[0, 0])
            rows, cols = max(c.shape[0] for c in cells), max(c.shape[1] for c in cells)
            tables = torch.zeros((len(cells), rows + 1, cols + 1), dtype=torch.float64)
            for table, c in zip(tables, cells):
                table[1:c.shape[0] + 1, 1:c.shape[1] + 1] = c.cumsum(0).cumsum(1)
                table[c.shape[0] + 1:, :] = table[c.shape[0]]  # past the photo: the sums at its edge
                table[:, c.shape[1] + 1:] = table[:, c.shape[1]:c.shape[1] + 1]
            self._animal = (tables, torch.stack([c.sum() for c in cells]))
        return self._animal


def resize(images, size: int):
    """uint8 (n, C, h, w) -> uint8 (n, C, size, size), antialiased bilinear. On the CPU torch resizes uint8
    directly (a fast SIMD path when the channels are the last dimension in memory, as the photos are);
    elsewhere through float."""
    import torch
    import torch.nn.functional as F

    if images.device.type == "cpu":
        return F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    scaled = F.interpolate(images.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return scaled.round_().clamp_(0, 255).to(torch.uint8)


def _rgb(image):
    """Any PIL image as upright RGB; transparent parts on white (what a viewer shows), not on whatever colour
    hides under alpha 0."""
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    return image.convert("RGB")


def _capped(size: tuple[int, int], short_side: int) -> tuple[int, int]:
    scale = min(1.0, short_side / min(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _shrink(image, short_side: int):
    from PIL import Image

    target = _capped(image.size, short_side)
    return image if image.size == target else image.resize(target, Image.Resampling.LANCZOS)


def _decode(path: Path, short_side: int):
    """The photo as upright RGB with its short side at most `short_side`."""
    from PIL import Image

    with Image.open(path) as image:
        image.draft("RGB", _capped(image.size, short_side))  # JPEG: let libjpeg scale down while decoding
        image.load()
        return _shrink(_rgb(image), short_side)


def _raw_mask(path: Path, name: str, mask_folder: Path):
    """(the mask of the photo at `path`, `name` inside its folder, as read; None) or (None, why it is left out)."""
    from PIL import Image

    mask_path = find_mask(mask_folder, Path(name))
    if mask_path is None:
        return None, f"{path}: no mask in {mask_folder}"
    try:
        with Image.open(path) as image:  # the header only: the size the mask must have, upright
            upright = image.size[::-1] if image.getexif().get(0x0112) in (5, 6, 7, 8) else image.size
    except Exception as e:
        return None, f"{path}: {type(e).__name__}: {e}"
    return read_mask(mask_path, upright), None


def _tensors(photo, mask, resolution: int):
    """A decoded photo (PIL RGB) and its animal mask (bool at the photo's full size, or None) -> the photo as
    uint8 (H, W, C) and its centre square (C, S, S). The mask is area-resized to the photo's size: its edges
    become the share of animal in each pixel."""
    from PIL import Image, ImageOps

    channels = list(photo.split())
    if mask is not None:
        channels.append(Image.fromarray(mask.astype(np.uint8) * 255).resize(photo.size, Image.Resampling.BOX))
    size = stored_size(resolution)
    full = np.dstack([np.asarray(c) for c in channels])
    methods = [Image.Resampling.LANCZOS] * 3 + [Image.Resampling.BOX]
    square = np.stack([np.asarray(ImageOps.fit(c, (size, size), method=m)) for c, m in zip(channels, methods)])
    return full, square


def _image_set(arrays, source: str, skipped: list[str], names: list[str], report=None) -> ImageSet:
    """(H, W, C) photos are kept as (C, H, W) views: channels last in memory, which the CPU resizes fastest."""
    import torch

    photos = [torch.from_numpy(full).permute(2, 0, 1) for full, _ in arrays]
    return ImageSet(photos, torch.from_numpy(np.stack([s for _, s in arrays])), source, skipped, names, report)


def find_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def load_folder(folder: Path, resolution: int, threads: int | None = None, masks: str | None = None,
                short_side: int | None = None) -> ImageSet:
    paths = find_images(folder)
    if not paths:
        raise UserError(f"--data {folder}: expected image files ({', '.join(sorted(IMAGE_SUFFIXES))}, "
                        f"any case, nested folders are fine), found none")
    mask_folder = Path(masks).expanduser() if masks else None
    if mask_folder is not None and not mask_folder.is_dir():
        raise UserError(f"--masks {masks}: expected a folder of masks (one per photo, same name), found none")
    cap = short_side or default_short_side(resolution)
    workers = threads or os.cpu_count() or 1  # PIL decodes without the GIL
    names = {path: str(path.relative_to(folder)) for path in paths}
    skipped: list[str] = []
    animals: dict[Path, object] = dict.fromkeys(paths)  # the photos to decode, with their animal masks
    report = None
    if mask_folder:  # first the masks (small): the folder's polarity needs all of them
        with ThreadPoolExecutor(max_workers=workers) as pool:
            raw = dict(zip(paths, pool.map(lambda path: _raw_mask(path, names[path], mask_folder), paths)))
        skipped = [why for _, why in raw.values() if why]
        by_name, report = normalise({names[p]: mask for p, (mask, _) in raw.items() if mask is not None},
                                    str(mask_folder))
        animals = {path: by_name[names[path]] for path in paths if names[path] in by_name}
        report.missing = [str(path) for path, (_, why) in raw.items() if why and ": no mask in " in why]

    def decode(path: Path):
        try:
            photo = _decode(path, cap)
        except Exception as e:  # PIL raises many kinds for a broken file; any of them means "skip it"
            return None, f"{path}: {type(e).__name__}: {e}"
        return _tensors(photo, animals[path], resolution), None

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(decode, list(animals)))
    skipped += [why for _, why in results if why]
    for why in skipped:
        log.warning("skipped image %s", why)
    arrays = [r for r, _ in results if r is not None]
    if not arrays:
        raise UserError(f"--data {folder}: expected readable images, found {len(paths)} files and none could "
                        f"be decoded{' with a mask' if mask_folder else ''}:\n  " + "\n  ".join(skipped[:20]))
    kept = [names[path] for path, (r, _) in zip(animals, results) if r is not None]
    images = _image_set(arrays, str(folder), skipped, kept, report)
    if report:
        log.info("%s; crops keeping at least half the animal: %.0f %% (%.0f %% by chance)", report.summary(),
                 100 * images.animal_in_frame(), 100 * images.animal_in_frame(tries=1))
    return images


def load_hub_dataset(name: str, resolution: int, short_side: int | None = None) -> ImageSet:
    """A Hugging Face `datasets` name: its first image column, split 'train'."""
    hint = "pass a local folder of images instead, e.g. --data /path/to/photos"
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
    cap = short_side or default_short_side(resolution)
    arrays, names, skipped = [], [], []
    for i, row in enumerate(dataset):
        try:
            arrays.append(_tensors(_shrink(_rgb(row[columns[0]]), cap), None, resolution))
            names.append(f"{name}[{i}]")
        except Exception as e:
            skipped.append(f"{name}[{i}]: {type(e).__name__}: {e}")
    if not arrays:
        raise UserError(f"--data {name}: expected readable images, found none")
    return _image_set(arrays, name, skipped, names)


def load_images(data: str, resolution: int, threads: int | None = None, masks: str | None = None,
                short_side: int | None = None) -> ImageSet:
    """The photos of `data` (a folder or a `datasets` name), with the animal masks of the folder `masks`."""
    path = Path(data).expanduser()
    if path.is_dir():
        return load_folder(path, resolution, threads, masks, short_side)
    if path.exists():
        raise UserError(f"--data {data}: expected a folder of images or a `datasets` name, found a file")
    if masks:
        raise UserError(f"--masks {masks}: masks need --data to be a folder of photos, found the dataset name {data}")
    return load_hub_dataset(data, resolution, short_side)

