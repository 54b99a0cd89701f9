"""Shared-memory rings of stereo sound: the soundscape worker writes ahead, the audio callback reads.

One shared-memory block holds `slots` rings of `capacity` frames (float32, stereo), a small header
per slot: [written, read, epoch] as int64 frame counters that only grow, and the worker's heartbeat. Each ring has one writer
(the worker) and one reader (the mixer), so no lock is needed: the writer fills frames, then publishes
them by raising `written`; the reader copies, then raises `read`. An aligned int64 store is atomic on the
machines we run on, and the worker never writes over frames the reader has not passed.

`epoch` says which layer a ring carries: the control side hands the reader a slot with a new epoch; the
worker sets `written = read` and then the epoch when it starts that layer, and the reader ignores a ring
whose epoch is not the one it expects, so the previous layer's leftovers are never heard.
"""

from __future__ import annotations

import numpy as np

from engine.processes.shared import SharedArrays

WRITTEN, READ, EPOCH = 0, 1, 2
HEADER = 4  # int64 fields per slot (one spare)


class Rings:
    def __init__(self, slots: int, capacity: int, name: str | None = None):
        """Create the rings (name=None) or attach to the worker's view of existing ones (name given)."""
        self.slots, self.capacity = slots, capacity
        self.arrays = SharedArrays({"header": ((slots, HEADER), np.int64),
                                    "heartbeat": ((1,), np.int64),  # the worker counts up
                                    "data": ((slots, capacity, 2), np.float32)}, name)
        self.name = self.arrays.name
        self.header, self.heartbeat, self.data = self.arrays.header, self.arrays.heartbeat, self.arrays.data

    def ahead(self, slot: int) -> int:
        """Frames written and not yet read."""
        return int(self.header[slot, WRITTEN] - self.header[slot, READ])

    def write(self, slot: int, frames: np.ndarray) -> None:
        """Writer: append `frames` (n, 2); the caller keeps n <= capacity - ahead(slot)."""
        position = int(self.header[slot, WRITTEN])
        self.put(slot, position, frames)
        self.header[slot, WRITTEN] = position + len(frames)

    def put(self, slot: int, position: int, frames: np.ndarray) -> None:
        """Writer: store frames at absolute `position` without publishing them."""
        start = position % self.capacity
        first = min(len(frames), self.capacity - start)
        self.data[slot, start:start + first] = frames[:first]
        self.data[slot, :len(frames) - first] = frames[first:]

    def get(self, slot: int, position: int, frames: int) -> np.ndarray:
        """A copy of `frames` frames from absolute `position` (writer side: for splicing)."""
        start = position % self.capacity
        index = (start + np.arange(frames)) % self.capacity
        return self.data[slot, index]

    def close(self) -> None:
        self.header = self.data = self.heartbeat = None
        self.arrays.close()


class RingFeed:
    """The mixer's side of one ring, for one epoch: available(), read(out), skip(frames). No allocation
    beyond numpy's small views."""

    def __init__(self, rings: Rings, slot: int, epoch: int):
        self.header = rings.header[slot]
        self.data = rings.data[slot]
        self.capacity = rings.capacity
        self.epoch = epoch

    def available(self) -> int:
        header = self.header
        if header[EPOCH] != self.epoch:
            return 0
        return header[WRITTEN] - header[READ]

    def read(self, out: np.ndarray) -> None:
        frames = len(out)
        read = self.header[READ]
        start = read % self.capacity
        first = self.capacity - start
        if first >= frames:
            np.copyto(out, self.data[start:start + frames])
        else:  # wraps (only when the block size does not divide the ring)
            np.copyto(out[:first], self.data[start:])
            np.copyto(out[first:], self.data[:frames - first])
        self.header[READ] = read + frames

    def skip(self, frames: int) -> None:
        self.header[READ] += frames
