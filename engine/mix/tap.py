"""Taps of the mixed sound, for the recorder: the callback drops each block into a ring, a thread hands
the blocks on. The callback never waits: when the ring is full (a tap too slow) the block is dropped and
counted, and the next one still carries its true frame index, so a listener can tell a gap.

Live, the ring is shared memory (engine/processes/shared.py): the player process pushes, the show process's
thread drains; each side has its own Taps over the one block.
"""

from __future__ import annotations

import logging

import numpy as np

from engine.processes.shared import SharedArrays
from engine.mix.ticker import Ticker
from engine.logs import RateLimitedLog

log = logging.getLogger(__name__)

POLL_SECONDS = 0.02
WRITTEN, READ, DROPPED, LISTENING = 0, 1, 2, 3


def tap_layout(block: int, blocks: int) -> dict:
    return {"tap_blocks": ((blocks, block, 2), np.float32),
            "tap_starts": ((blocks,), np.int64),     # frame index of each block's first frame
            "tap_lengths": ((blocks,), np.int64),
            "tap_counts": ((4,), np.int64)}          # WRITTEN, READ, DROPPED blocks; LISTENING: 1 or 0


class Taps:
    def __init__(self, block: int, blocks: int, shared: SharedArrays | None = None):
        """`shared`: a block made with `tap_layout` (live); plain memory without."""
        shared = shared if shared is not None else SharedArrays(tap_layout(block, blocks), local=True)
        self.blocks, self.starts, self.lengths = shared.tap_blocks, shared.tap_starts, shared.tap_lengths
        self.counts = shared.tap_counts
        self.fns: tuple = ()
        self._ticker = Ticker("audio taps", self.drain_once, POLL_SECONDS)
        self._errors = RateLimitedLog(log)

    @property
    def dropped(self) -> int:
        return int(self.counts[DROPPED])

    def add(self, fn) -> None:
        self.fns = self.fns + (fn,)
        self.counts[LISTENING] = 1

    def push(self, block: np.ndarray, start: int) -> None:
        """From the audio callback: store a copy of `block` (frames <= the ring's block)."""
        counts = self.counts
        if not counts[LISTENING]:
            return
        written = counts[WRITTEN]
        if written - counts[READ] >= len(self.blocks):
            counts[DROPPED] += 1
            return
        i = written % len(self.blocks)
        frames = len(block)
        np.copyto(self.blocks[i, :frames], block)
        self.starts[i], self.lengths[i] = start, frames
        counts[WRITTEN] = written + 1  # after the block: the reader takes what is published

    def start(self) -> None:
        self._ticker.start()

    def stop(self) -> None:
        self._ticker.stop()
        self.drain_once()

    def drain_once(self) -> None:
        counts = self.counts
        while counts[READ] < counts[WRITTEN]:
            i = counts[READ] % len(self.blocks)
            block = self.blocks[i, :self.lengths[i]].copy()
            start = int(self.starts[i])
            counts[READ] += 1
            for fn in self.fns:
                try:
                    fn(block, start)
                except Exception as e:  # a broken listener must not stop the sound or the others
                    self._errors.warning("audio tap %s failed: %s", getattr(fn, "__name__", fn), e)
