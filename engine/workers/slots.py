"""Shared-memory slots: fixed-size picture buffers a worker process writes and the main process reads.

One `multiprocessing.shared_memory` block holds `count` slots of `frames` pictures of side x side x 3 bytes
(a postcard and its reveal previews). The main process creates and owns the block, so it outlives any
worker; a worker attaches by name. Only small control messages travel over queues.
"""

from __future__ import annotations

from dataclasses import dataclass
from multiprocessing import shared_memory

import numpy as np


@dataclass(frozen=True)
class SlotLayout:
    name: str
    count: int
    frames: int
    side: int

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        return (self.count, self.frames, self.side, self.side, 3)


class SlotPool:
    """The block as a numpy array of shape (count, frames, side, side, 3)."""

    def __init__(self, layout: SlotLayout, shm: shared_memory.SharedMemory, owner: bool):
        self.layout, self._shm, self._owner = layout, shm, owner
        self.array = np.ndarray(layout.shape, dtype=np.uint8, buffer=shm.buf)

    @classmethod
    def create(cls, count: int, frames: int, side: int) -> "SlotPool":
        size = count * frames * side * side * 3
        shm = shared_memory.SharedMemory(create=True, size=size)
        return cls(SlotLayout(shm.name, count, frames, side), shm, owner=True)

    @classmethod
    def attach(cls, layout: SlotLayout) -> "SlotPool":
        # A spawned worker shares its parent's resource tracker, so attaching registers nothing new and the
        # owner's unlink is the only one (unregistering here would unregister the owner's block).
        shm = shared_memory.SharedMemory(name=layout.name)
        return cls(layout, shm, owner=False)

    def write(self, slot: int, frame: int, picture: np.ndarray) -> None:
        h, w, _ = picture.shape
        self.array[slot, frame, :h, :w] = picture

    def read(self, slot: int, frame: int, height: int, width: int) -> np.ndarray:
        """A private copy: the slot may be reused as soon as this returns."""
        return self.array[slot, frame, :height, :width].copy()

    def close(self) -> None:
        del self.array  # the numpy view must go before the buffer can be released
        self._shm.close()
        if self._owner:
            self._shm.unlink()
