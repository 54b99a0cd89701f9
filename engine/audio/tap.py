"""Taps of the mixed sound, for the recorder: the callback drops each block into a ring, a thread hands
the blocks on. The callback never waits: when the ring is full (a tap too slow) the block is dropped and
counted, and the next one still carries its true frame index, so a listener can tell a gap.
"""

from __future__ import annotations

import logging

import numpy as np

from engine.audio.ticker import Ticker
from engine.logs import RateLimitedLog

log = logging.getLogger(__name__)

POLL_SECONDS = 0.02


class Taps:
    def __init__(self, block: int, blocks: int):
        self.fns: tuple = ()
        self.blocks = np.zeros((blocks, block, 2), np.float32)
        self.starts = np.zeros(blocks, np.int64)   # frame index of each block's first frame
        self.lengths = np.zeros(blocks, np.int64)
        self.written = self.read = 0
        self.dropped = 0
        self._ticker = Ticker("audio taps", self.drain_once, POLL_SECONDS)
        self._errors = RateLimitedLog(log)

    def add(self, fn) -> None:
        self.fns = self.fns + (fn,)

    def push(self, block: np.ndarray, start: int) -> None:
        """From the audio callback: store a copy of `block` (frames <= the ring's block)."""
        if not self.fns:
            return
        if self.written - self.read >= len(self.blocks):
            self.dropped += 1
            return
        i = self.written % len(self.blocks)
        frames = len(block)
        np.copyto(self.blocks[i, :frames], block)
        self.starts[i], self.lengths[i] = start, frames
        self.written += 1

    def start(self) -> None:
        self._ticker.start()

    def stop(self) -> None:
        self._ticker.stop()
        self.drain_once()

    def drain_once(self) -> None:
        while self.read < self.written:
            i = self.read % len(self.blocks)
            block = self.blocks[i, :self.lengths[i]].copy()
            start = int(self.starts[i])
            self.read += 1
            for fn in self.fns:
                try:
                    fn(block, start)
                except Exception as e:  # a broken listener must not stop the sound or the others
                    self._errors.warning("audio tap %s failed: %s", getattr(fn, "__name__", fn), e)
