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


@dataclass
class Postcard:
    seed: int
    image: np.ndarray                       # (H, W, 3) uint8
    previews: list[np.ndarray] = field(default_factory=list)  # earliest guess first, for reveal
    recipe: Recipe | None = None
    seconds: float = 0.0                    # sampling time of the call that made it (per postcard)


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

    def use(self, recipe: Recipe) -> None:
        from engine.postcards.schedulers import make_scheduler
        from engine.postcards.store import load_model

        if self.model is None or self.recipe is None or recipe.model != self.recipe.model:
            self.model = None  # a failed load leaves no half-loaded model behind
            self.model = load_model(recipe.model, self.device)
        self.scheduler = make_scheduler(recipe.scheduler, self.model.scheduler_config)
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
                        device=self.model.device, on_step=on_step)
        return images, previews
