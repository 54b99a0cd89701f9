"""A daemon thread that calls one function every so often until stopped (the engine's housekeeping, the taps)."""

from __future__ import annotations

import logging
import threading
import time

from engine.logs import RateLimitedLog

log = logging.getLogger(__name__)


class Ticker:
    def __init__(self, name: str, fn, interval: float):
        self.name, self.fn, self.interval = name, fn, interval
        self._running = False
        self._thread: threading.Thread | None = None
        self._errors = RateLimitedLog(log)

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while self._running:
            try:
                self.fn()
            except Exception as e:  # keep ticking whatever one call does; a repeating fault logs rarely
                self._errors.warning("%s: %s: %s", self.name, type(e).__name__, e)
            time.sleep(self.interval)
