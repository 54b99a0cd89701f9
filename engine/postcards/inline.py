"""`InlineSampler`: the sampler's postcards made in the calling process, waiting for each: what offline
rendering and deterministic tests need (same seeds, same pictures as the worker process paints)."""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Callable

from engine.postcards.maker import Postcard, PostcardMaker, Recipe, finished

if TYPE_CHECKING:
    from engine.settings.config import Config


class InlineSampler:
    """The same postcards made in this process, waiting for each: for offline rendering and tests."""

    def __init__(self, config: Config, next_seed: Callable[[], int]):
        self.next_seed = next_seed
        self.maker = PostcardMaker(config.sampler.device)
        self.recipe: Recipe | None = None
        self.stats = {"made": 0, "errors": 0, "discarded": 0}
        self.last_seconds = 0.0
        self.ready: deque[Postcard] = deque()
        self.pending = 0

    def configure(self, recipe: Recipe) -> None:
        self.recipe = recipe

    def poll(self, now: float) -> None:
        pass

    def peek(self) -> Postcard | None:
        return None  # each postcard is painted when it is taken

    def take(self) -> Postcard | None:
        if self.recipe is None:
            return None
        if self.maker.recipe != self.recipe:
            self.maker.use(self.recipe)
        seed = self.next_seed()
        start = time.perf_counter()
        ((picture, previews, morph_from),) = self.maker.paint(seed)
        self.last_seconds = time.perf_counter() - start
        self.stats["made"] += 1
        return finished(seed, picture, previews, recipe=self.recipe, seconds=self.last_seconds, morph_from=morph_from)

    def close(self) -> None:
        pass
