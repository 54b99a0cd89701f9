"""Frames handed from the frame loop to an output's own thread (NDI, the web face's picture) without waiting.

The frame loop copies the drawn surface into a free slot (one memcpy: ~0.15 ms at 1080p here; a preview takes
every second pixel of every second row, a quarter of that) and goes on; the output's thread takes the newest
copy, uses it and gives the slot back. When no slot is free (the output is slower than the show) the frame is
dropped and counted: an output never holds the show back.
"""

from __future__ import annotations

import threading

import numpy as np


class Handoff:
    def __init__(self, slots: int = 2):
        self.stats = {"offered": 0, "dropped": 0, "taken": 0}
        self._free: list[np.ndarray] = []
        self._slots = slots
        self._shape: tuple[int, int, int] | None = None
        self._ready: tuple[np.ndarray, float] | None = None
        self._cond = threading.Condition()
        self.closed = False
        self.order = "BGRX"  # the bytes of a pixel as the latest surface holds them (or RGBX)

    def offer(self, surface, now: float, step: int = 1) -> bool:
        """Copy a 32-bit surface's pixels (as memory holds them: B, G, R, X) for the consumer, every `step`th
        pixel of every `step`th row (a preview needs no more, and a quarter of the copy costs a quarter);
        False when dropped. Frame loop only."""
        width, height = surface.get_size()
        shape = (-(-height // step), -(-width // step), 4)
        if surface.get_bytesize() != 4:
            raise ValueError(f"expected a 32-bit surface, found {surface.get_bitsize()}-bit")
        self.order = "RGBX" if surface.get_masks()[0] == 0xFF else "BGRX"
        self.stats["offered"] += 1
        with self._cond:
            if shape != self._shape:  # a new size: fresh slots
                self._shape, self._free, self._ready = shape, [np.empty(shape, np.uint8)
                                                               for _ in range(self._slots)], None
            if not self._free:
                self.stats["dropped"] += 1
                return False
            slot = self._free.pop()
        pixels = np.frombuffer(surface.get_buffer(), np.uint32).reshape(height, surface.get_pitch() // 4)
        np.copyto(slot.view(np.uint32)[..., 0], pixels[::step, :width:step])
        with self._cond:
            if self._ready is not None:  # the consumer did not take the last one: it is stale now
                self._give_back(self._ready[0])
                self.stats["dropped"] += 1
            self._ready = (slot, now)
            self._cond.notify()
        return True

    def take(self, timeout: float) -> tuple[np.ndarray, float] | None:
        """The newest frame (height, width, 4 bytes in `order`) and its show time, or None after `timeout`/close.
        Hand the array back with `release` when done with it."""
        with self._cond:
            if self._ready is None and not self.closed:
                self._cond.wait(timeout)
            ready, self._ready = self._ready, None
        if ready is not None:
            self.stats["taken"] += 1
        return ready

    def release(self, frame: np.ndarray) -> None:
        with self._cond:
            self._give_back(frame)

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def _give_back(self, frame: np.ndarray) -> None:
        if frame.shape == self._shape:  # a slot of an old size is left to the garbage collector
            self._free.append(frame)
