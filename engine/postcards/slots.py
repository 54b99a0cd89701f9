"""Shared-memory slots the sampler's worker paints postcards into and the show reads them from: only small
control messages travel over queues."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.postcards.maker import Postcard
from engine.processes.shared import SharedArrays


@dataclass(frozen=True)
class SlotLayout:
    """Where the worker finds the pictures: the shared block's name and its slots' shape."""
    name: str
    count: int
    frames: int
    side: int

    def arrays(self) -> dict:
        return {"pictures": ((self.count, self.frames, self.side, self.side, 3), np.uint8),
                "masks": ((self.count, self.side, self.side), np.uint8),
                "heartbeat": ((1,), np.int64)}  # the worker counts it up (engine/processes/heartbeat.py)


class SlotPool:
    """`count` slots of `frames` pictures of side x side x 3 bytes (a postcard, the pictures on its way and
    its retraced pictures) and a side x side mask (its animal's, when the model paints one) in one shared
    block. The main process creates and owns it, so it outlives any worker; a worker attaches
    by name. Only small control messages travel over queues."""

    def __init__(self, layout: SlotLayout, shared: SharedArrays):
        self.layout, self._shared = layout, shared
        self.array, self.masks, self.heartbeat = shared.pictures, shared.masks, shared.heartbeat

    @classmethod
    def create(cls, count: int, frames: int, side: int) -> "SlotPool":
        shared = SharedArrays(SlotLayout("", count, frames, side).arrays())
        return cls(SlotLayout(shared.name, count, frames, side), shared)

    @classmethod
    def attach(cls, layout: SlotLayout) -> "SlotPool":
        return cls(layout, SharedArrays(layout.arrays(), name=layout.name))

    def write(self, slot: int, frame: int, picture: np.ndarray) -> None:
        h, w, _ = picture.shape
        self.array[slot, frame, :h, :w] = picture

    def read(self, slot: int, frame: int, height: int, width: int) -> np.ndarray:
        """A private copy: the slot may be reused as soon as this returns."""
        return self.array[slot, frame, :height, :width].copy()

    def put(self, slot: int, postcard: Postcard) -> tuple:
        """Write a postcard's pictures into `slot`; returns what `get` needs to read them back."""
        pictures = [*postcard.previews, postcard.image, *postcard.retraced.values()]
        for frame, picture in enumerate(pictures):
            self.write(slot, frame, picture)
        if postcard.mask is not None:
            h, w = postcard.mask.shape
            self.masks[slot, :h, :w] = postcard.mask
        return len(postcard.previews), postcard.mask is not None, tuple(postcard.retraced)

    def get(self, slot: int, seed: int, height: int, width: int, held: tuple, **details) -> Postcard:
        """The postcard `put` wrote into `slot` (`held`: what it returned), as private copies."""
        previews, masked, modes = held
        return Postcard(seed, self.read(slot, previews, height, width),
                        [self.read(slot, f, height, width) for f in range(previews)],
                        mask=self.masks[slot, :height, :width].copy() if masked else None,
                        retraced={m: self.read(slot, previews + 1 + k, height, width) for k, m in enumerate(modes)},
                        **details)

    def close(self) -> None:
        self.array = self.masks = self.heartbeat = None  # the numpy views must go before the block can be released
        self._shared.close()
