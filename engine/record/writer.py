"""A file written on its own thread: the caller hands items over and never waits for the disk.

A failure while writing (disk full, file too large, the folder gone) stops the file, is logged once and kept
in `error`; it never reaches the caller, so the show goes on. Subclasses say how an item is written
(`_write`) and how the file is finished (`_finish`).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from pathlib import Path

import numpy as np

from engine.errors import UserError

log = logging.getLogger(__name__)

_STOP = object()
WRITER_NICE = 10  # added to the writer thread's nice value: see _yield_to_the_show


class RecordingError(UserError):
    """A recording could not start (e.g. its folder cannot be written)."""


class BackgroundWriter:
    kind = "file"  # for messages: "recording", "audio recording"

    def __init__(self, path: Path, yield_to_show: bool = True):
        """`yield_to_show`: run at a lower CPU priority (live); offline nothing needs the core more."""
        self.path = Path(path)
        self.yield_to_show = yield_to_show
        self.error: str | None = None
        self._items: queue.SimpleQueue = queue.SimpleQueue()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name=f"{self.kind} {self.path.name}", daemon=True)

    @property
    def active(self) -> bool:
        """True while items are still taken (not stopped, no error)."""
        return not self._stopped and self.error is None

    def _start(self) -> None:
        self._thread.start()

    def _submit(self, item) -> bool:
        if not self.active:
            return False
        self._items.put(item)
        return True

    def stop(self) -> None:
        """Finish the file: write what is queued, close it. Waits for the writer thread (not the show's
        frame: call it when recording ends). Safe to call twice."""
        if not self._stopped:
            self._stopped = True
            self._items.put(_STOP)
        self._thread.join()

    def _loop(self) -> None:
        if self.yield_to_show:
            _yield_to_the_show()
        while (item := self._items.get()) is not _STOP:
            if self.error is None:
                self._guard(self._write, item)
            self._done(item)
        # After a failure the file is closed as far as it can be; what was written stays readable.
        self._guard(self._finish)

    def _guard(self, action, *args) -> None:
        try:
            action(*args)
        except Exception as e:  # any failure stops this file, never the show
            if self.error is None:
                self.error = f"{self.path}: {self.kind} stopped: {_reason(e)}"
                log.error("%s; the show goes on", self.error)

    def _write(self, item) -> None:
        raise NotImplementedError

    def _done(self, item) -> None:
        """After each item, written or (after a failure) skipped."""

    def _finish(self) -> None:
        raise NotImplementedError


def _yield_to_the_show() -> None:
    """Lower this thread's CPU priority (and so that of the threads it starts: libx264's). On a busy machine
    the show's frame then gets the core first and the writer falls behind instead, where falling behind is
    cheap: the recorder drops a frame and counts it. (Linux keeps a nice value per thread.)"""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WRITER_NICE)
    except (AttributeError, OSError):  # not on this platform: the writer runs at the show's priority
        pass


def _reason(error: Exception) -> str:
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return text


def place_audio(block: np.ndarray, t: float, start: float, samplerate: int, written: int,
                slack: int) -> np.ndarray:
    """The samples to append to a stream holding `written` samples so that `block`, whose first sample
    plays at show time t, lands where show time says. The stream follows the show clock (silence for a
    gap, the overlap trimmed) at its first block and whenever the two clocks disagree by more than `slack`
    samples; smaller jitter is ignored so the sound never clicks."""
    gap = round((t - start) * samplerate) - written
    if written and abs(gap) <= slack:
        return block
    if gap > 0:
        return np.concatenate([np.zeros((gap, block.shape[1]), block.dtype), block])
    return block[-gap:] if gap < 0 else block
