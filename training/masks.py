"""Animal masks for training: read, check against their photo, normalise to "animal = True", report.

Mask folders mark their animal in one colour, and which one differs between sources (the camouflage set's
masks have the animal black on white). We decide the polarity once per folder, not per mask: each mask
votes for its smaller colour, and the majority wins. Per mask that rule fails often on the camouflage set:
there the white region is the surface the animal hides against (bark, leaves, sand), and it is the
smaller region in about a quarter of the masks although the animal is black in every one we looked at.

The animal side of those masks also holds much that is no animal (sky, trunks, other plants), mostly
touching the image border, while the animal sits inside the surface as a hole. So the animal is the
animal-coloured parts that do not touch the border, when there are any; a mask without such parts keeps
its whole animal side when that is small enough to be an animal in close-up, else it marks no animal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import UserError

log = logging.getLogger(__name__)

MASK_SUFFIXES = (".png", ".bmp", ".gif", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")
MIN_ENCLOSED = 0.0005  # enclosed parts below this share of the image are specks, not an animal
MAX_WHOLE = 0.5  # an animal side without enclosed parts counts as the animal only below this share


@dataclass
class MaskReport:
    folder: str
    animal_white: bool = False  # the folder's polarity: True when the animal is white in its masks
    votes_white: int = 0  # masks whose smaller colour is white
    votes_black: int = 0
    outvoted: list[str] = field(default_factory=list)  # stems whose own vote lost: check these by eye
    whole: list[str] = field(default_factory=list)  # no enclosed part: the whole animal side was kept
    empty: list[str] = field(default_factory=list)  # no enclosed part and a large animal side: no animal
    missing: list[str] = field(default_factory=list)  # photos without a mask (left out of training)

    def summary(self) -> str:
        colour = "white" if self.animal_white else "black"
        return (f"masks from {self.folder}: the animal is {colour} (votes: {self.votes_black} black, "
                f"{self.votes_white} white; {len(self.outvoted)} outvoted), {len(self.whole)} without an "
                f"enclosed animal kept whole, {len(self.empty)} marked as no animal, {len(self.missing)} "
                f"photos without a mask left out")


def find_mask(folder: Path, relative: Path) -> Path | None:
    """The mask of the photo at `relative` (inside the data folder): same relative path and stem."""
    for suffix in MASK_SUFFIXES:
        for name in (relative.stem + suffix, relative.stem + suffix.upper()):
            path = folder / relative.parent / name
            if path.is_file():
                return path
    return None


def read_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """A binary mask as bool (H, W), True where it is white; `size` is its photo's (width, height)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            grey = np.asarray(image.convert("L"))
    except Exception as e:  # PIL raises many kinds for a broken file
        raise UserError(f"--masks: {path}: expected a readable image (a binary mask), found "
                        f"{type(e).__name__}: {e}") from None
    if grey.shape[::-1] != tuple(size):
        raise UserError(f"--masks: {path}: expected the size of its photo, {size[0]}x{size[1]}, found "
                        f"{grey.shape[1]}x{grey.shape[0]}")
    return grey >= 128


def polarity(masks: dict[str, np.ndarray], report: MaskReport) -> None:
    """Decide the folder's polarity by majority of the masks' smaller colours; a tie goes to white."""
    smaller_white = {stem: bool(m.mean() < 0.5) for stem, m in masks.items()}
    report.votes_white = sum(smaller_white.values())
    report.votes_black = len(masks) - report.votes_white
    report.animal_white = report.votes_white >= report.votes_black
    report.outvoted = sorted(s for s, white in smaller_white.items() if white != report.animal_white)


def animal(side: np.ndarray) -> tuple[np.ndarray, str]:
    """The animal within the animal-coloured side of a mask, and how it was found: enclosed, whole or empty."""
    from scipy import ndimage

    labels, _ = ndimage.label(side)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    enclosed = side & ~np.isin(labels, border)
    if enclosed.mean() >= MIN_ENCLOSED:
        return enclosed, "enclosed"
    if side.mean() <= MAX_WHOLE:
        return side, "whole"
    return np.zeros_like(side), "empty"


def normalise(masks: dict[str, np.ndarray], folder: str) -> tuple[dict[str, np.ndarray], MaskReport]:
    """Raw masks (True = white) by stem -> animal masks (True = animal) and the report of how."""
    report = MaskReport(folder)
    polarity(masks, report)
    animals = {}
    for stem, mask in masks.items():
        animals[stem], how = animal(mask if report.animal_white else ~mask)
        if how != "enclosed":
            getattr(report, how).append(stem)
    return animals, report
