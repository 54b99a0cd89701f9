"""A worker's heartbeat: a counter in shared memory that the worker counts up while it is alive, watched by
its owner, who kills a worker whose counter stood still (stopped by SIGSTOP, deadlocked with the GIL held,
swapped to death); its supervisor then restarts it.

The worker beats from a thread of its own (`beat_in_background`), so a long step of torch does not look like a
hang, while a stopped process does. A worker that has not beaten yet since its start gets `startup_seconds`
(it imports torch first).
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)

BEAT_SECONDS = 0.25


def beat_in_background(counter) -> threading.Thread:
    """Count `counter[0]` up every BEAT_SECONDS for as long as the process runs."""

    def beat():
        while True:
            counter[0] += 1
            time.sleep(BEAT_SECONDS)

    thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
    thread.start()
    return thread


class HeartbeatWatch:
    def __init__(self, name: str, counter, hung_seconds: float, startup_seconds: float | None = None):
        self.name, self.counter, self.hung_seconds = name, counter, hung_seconds
        self.startup_seconds = hung_seconds if startup_seconds is None else startup_seconds
        self.kills = 0
        self._beat, self._since, self._started = -1, 0.0, False

    def launched(self, now: float) -> None:
        """A new worker: its first beat may take startup_seconds (the counter goes on from the old one's)."""
        self._beat, self._since, self._started = int(self.counter[0]), now, False

    def check(self, now: float, process) -> bool:
        """Kill `process` if alive and silent too long; True when it was killed."""
        beat = int(self.counter[0])
        if beat != self._beat:
            self._beat, self._since = beat, now
            self._started = True
            return False
        limit = self.hung_seconds if self._started else self.startup_seconds
        if process is None or not process.is_alive() or now - self._since <= limit:
            return False
        log.warning("%s: no heartbeat for %.0f s; killing it (it is restarted)", self.name, now - self._since)
        process.kill()
        self.kills += 1
        self._since = now
        return True
