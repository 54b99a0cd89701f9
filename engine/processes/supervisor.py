"""Keep a worker process alive: restart it when it dies, with exponential back-off, never blocking.

`check(now)` is called once a frame (or a tick) by the thread that owns the worker. A worker that ran for
`stable_after` seconds is considered healthy again, and its next death restarts it after `min_delay`; one
that dies young waits twice as long each time, up to `max_delay`, so a crash loop (a broken model, no
memory) costs little while the show keeps playing on what it has.
"""

from __future__ import annotations

import logging
from typing import Callable

log = logging.getLogger(__name__)


class Supervisor:
    def __init__(self, name: str, start: Callable[[], object], *, min_delay: float = 0.5,
                 max_delay: float = 30.0, stable_after: float = 60.0):
        """`start()` launches a worker and returns its process (anything with is_alive() and exitcode)."""
        self.name, self._start = name, start
        self.min_delay, self.max_delay, self.stable_after = min_delay, max_delay, stable_after
        self.process = None
        self.restarts = 0
        self._delay = min_delay
        self._started_at = 0.0
        self._restart_at: float | None = None

    def launch(self, now: float) -> None:
        self.process = self._start()
        self._started_at, self._restart_at = now, None

    def check(self, now: float) -> bool:
        """True when a (re)started worker came up during this call: the owner re-sends its state."""
        if self.process is not None and self.process.is_alive():
            if now - self._started_at >= self.stable_after:
                self._delay = self.min_delay
            return False
        if self._restart_at is None:
            if now - self._started_at >= self.stable_after:
                self._delay = self.min_delay  # it ran fine for a while: this death is not a crash loop
            code = getattr(self.process, "exitcode", None)
            _release(self.process)
            self.process = None
            self._restart_at = now + self._delay
            log.warning("%s worker stopped (exit code %s); restarting in %.1f s", self.name, code, self._delay)
            self._delay = min(self._delay * 2, self.max_delay)
            return False
        if now < self._restart_at:
            return False
        self.restarts += 1
        try:
            self.launch(now)
        except Exception as e:  # no process could be started (out of memory, process limit): try again later
            self._restart_at = now + self._delay
            log.error("%s worker could not start (%s: %s); next try in %.1f s", self.name, type(e).__name__, e,
                      self._delay)
            self._delay = min(self._delay * 2, self.max_delay)
            return False
        log.info("%s worker restarted (restart %d)", self.name, self.restarts)
        return True

    def stop(self, timeout: float = 2.0) -> None:
        """Wait for a worker that was asked to stop; kill it if it does not."""
        process, self.process = self.process, None
        if process is None:
            return
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join(timeout)
        _release(process)


def _release(process) -> None:
    """Free a finished process's pipes and handles (file descriptors stay flat over weeks of restarts)."""
    if process is not None and hasattr(process, "close"):
        process.join(0)
        if not process.is_alive():
            process.close()
