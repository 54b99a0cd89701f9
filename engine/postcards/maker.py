"""Postcards and how they are made: a Recipe (model, sampler, steps) and the PostcardMaker that loads it
and samples, keeping a few intermediate guesses of each postcard for the "reveal" transition.

The worker process (engine.postcards.worker) and offline rendering both make postcards with it; the
compositor draws the Postcards it gives.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

PREVIEWS = 6        # intermediate predictions kept per postcard for the reveal transition


@dataclass(frozen=True)
class Recipe:
    """How postcards are made now: what the show's state asks the sampler for."""
    model: str       # model folder (absolute path)
    scheduler: str
    steps: int
    morph: bool = False   # paint each postcard's in-betweens from the one before (engine/postcards/morph.py)
    dream: bool = False   # paint each postcard as a dream of the one before


@dataclass
class Postcard:
    seed: int
    image: np.ndarray                       # (H, W, 3) uint8
    # Pictures on the way to this one, earliest first: the sampler's guesses (for reveal), or, when
    # `morph_from` is set, the in-betweens from postcard `morph_from` (for morph).
    previews: list[np.ndarray] = field(default_factory=list)
    recipe: Recipe | None = None
    seconds: float = 0.0                    # sampling time of the call that made it (per postcard)
    morph_from: int | None = None
    mask: np.ndarray | None = None          # (H, W) uint8, 255 = the hidden animal, when the model paints one
    retraced: dict[str, np.ndarray] = field(default_factory=dict)  # mode -> the postcard retraced (retrace.py)


def split_mask(pictures: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """uint8 (..., H, W, 3 or 4) as painted -> the RGB pictures and the animal's mask (..., H, W) at 0 or 255
    (None when the model paints no mask)."""
    if pictures.shape[-1] == 3:
        return pictures, None
    return pictures[..., :3], np.where(pictures[..., 3] >= 128, 255, 0).astype(np.uint8)


def finished(seed: int, picture: np.ndarray, previews: list[np.ndarray], **details) -> Postcard:
    """A painted picture (H, W, 3, or 4 with the mask) as a Postcard, its retraced pictures made here (in the
    sampler, off the frame thread). `details`: the other Postcard fields."""
    from engine.postcards.retrace import retraced

    image, mask = split_mask(picture)
    return Postcard(seed, image, [split_mask(p)[0] for p in previews], mask=mask,
                    retraced=retraced(image, mask) if mask is not None else {}, **details)


def torch_threads(setting: int) -> int:
    """config.sampler.threads; 0 = all cores but one, so drawing and sound keep a core."""
    return setting if setting > 0 else max(1, (os.cpu_count() or 2) - 1)


def preview_steps(total: int, count: int = PREVIEWS) -> list[int]:
    """Which of `total` steps' predictions to keep: evenly spread, never the last (that is the postcard)."""
    if total <= 1:
        return []
    return sorted({round(k * (total - 1) / count) for k in range(count)})


class PostcardMaker:
    """Loads a recipe's model and scheduler (again only when they change) and samples postcards."""

    def __init__(self, device: str = "auto"):
        self.device = device
        self.recipe: Recipe | None = None
        self.model = None
        self.scheduler = None
        self._last: tuple[int, np.ndarray] | None = None  # the seed and picture painted last, this recipe

    def use(self, recipe: Recipe) -> None:
        from engine.postcards.schedulers import make_scheduler
        from engine.postcards.store import load_model

        if self.model is None or self.recipe is None or recipe.model != self.recipe.model:
            self.model = None  # a failed load leaves no half-loaded model behind
            self.model = load_model(recipe.model, self.device)
        self.scheduler = make_scheduler(recipe.scheduler, self.model.scheduler_config)
        if self.recipe is None or (recipe.model, recipe.scheduler, recipe.steps) != \
                (self.recipe.model, self.recipe.scheduler, self.recipe.steps):
            self._last = None  # a morph or a dream follows only a postcard of the same recipe
        self.recipe = recipe

    def make(self, seed: int, n: int = 1) -> tuple[np.ndarray, list[np.ndarray]]:
        """(n, H, W, 3) postcards for seeds seed..seed+n-1 and their previews, each (n, H, W, 3)."""
        from engine.postcards.sample import sample

        previews: list[np.ndarray] = []
        keep: list[int] = []

        def on_step(i: int, total: int, guess: np.ndarray) -> None:
            if not keep:
                keep.extend(preview_steps(total))
            if i in keep:
                previews.append(guess)

        images = sample(self.model.unet, self.scheduler, n=n, steps=self.recipe.steps, seed=seed,
                        device=self.model.device, anchor=self.model.anchor, on_step=on_step)
        return images, previews

    def paint(self, seed: int, n: int = 1) -> list[tuple[np.ndarray, list[np.ndarray], int | None]]:
        """Postcards seed..seed+n-1 as the recipe asks, in order: (picture, previews, morph_from) each, at the
        model's finished size (super-resolution included). With
        `dream`, a postcard is a dream of the one painted before; with `morph`, its previews are the
        in-betweens from the one painted before (`morph_from`); otherwise the reveal's guesses."""
        from engine.postcards.morph import dream, morph

        recipe = self.recipe
        if not (recipe.morph or recipe.dream):
            images, previews = self.make(seed, n)
            painted = [(images[i], [p[i] for p in previews], None) for i in range(n)]
        else:
            painted = []
            for this in range(seed, seed + n):
                last = self._last
                if recipe.dream and last is not None:
                    painted.append((dream(self, last[1], this), [], None))
                else:
                    picture = self.make(this)[0][0]
                    if recipe.morph and last is not None:
                        painted.append((picture, morph(self, last[0], this, PREVIEWS), last[0]))
                    else:
                        painted.append((picture, [], None))
                self._last = (this, painted[-1][0])
        self._last = (seed + n - 1, painted[-1][0])  # a dream follows the picture at the model's own size
        return self._upscaled(painted, seed)

    def _upscaled(self, painted: list, seed: int) -> list:
        """The pictures through the model's super-resolution stage, when it has one (postcard i with seed + i),
        and the pictures on their way enlarged to match (bicubic: they are guesses)."""
        from engine.postcards.superres import enlarge, upscale

        stage = self.model.superres
        if stage is None:
            return painted
        pictures = upscale(np.stack([picture for picture, _, _ in painted]), stage, seed=seed)
        return [(picture, [enlarge(p[None], stage.factor)[0] for p in previews], morph_from)
                for picture, (_, previews, morph_from) in zip(pictures, painted)]
