"""A process of the live sound (the soundscape worker, the player), seen from the show process: started
from a fork server, restarted with back-off when it dies (engine.processes.supervisor), killed when its
heartbeat stops, its log lines brought home over its pipe into the show's own log.

The child's entry point is called as `target(*args, conn, log_level)`; it calls `log_to_parent(conn, level)`
first, counts up its heartbeat (an int64 in shared memory) while it works, and returns when it receives
None or its parent goes away.
"""

from __future__ import annotations

import logging
import os
import time

from engine.processes.heartbeat import HeartbeatWatch
from engine.processes.lifeline import end_with_parent

log = logging.getLogger(__name__)


class PipeLog(logging.Handler):
    """Log records of a child go to the parent as ("log", level, text)."""

    def __init__(self, conn):
        super().__init__()
        self.conn = conn

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.conn.send(("log", record.levelno, record.getMessage()))
        except (OSError, ValueError):
            pass


def log_to_parent(conn, level: int) -> None:
    root = logging.getLogger()
    root.handlers[:] = [PipeLog(conn)]
    root.setLevel(level)


class Child:
    def __init__(self, name: str, target, args: tuple, heartbeat, *, preload: list[str], min_delay: float,
                 max_delay: float, stable_after: float, hung_seconds: float = 5.0):
        """`heartbeat`: the int64 array (one element) in shared memory that the child counts up. `preload`:
        the modules the fork server imports once, so a (re)started child is a fork, not seconds of imports."""
        from engine.processes.supervisor import Supervisor

        self.name, self.target, self.args, self.heartbeat, self.preload = name, target, args, heartbeat, preload
        self.watch = HeartbeatWatch(name, heartbeat, hung_seconds)  # silent this long: killed, so restarted
        self.conn = None
        self.launches = 0                 # the owner re-sends its state to each new child
        self.supervisor = Supervisor(name, self._launch, min_delay=min_delay, max_delay=max_delay,
                                     stable_after=stable_after)

    def launch(self) -> None:
        self.supervisor.launch(time.monotonic())

    def check(self, now: float) -> None:
        """Restart a dead child (with back-off), kill a hung one, pass on its log lines."""
        self.supervisor.check(now)
        self.watch.check(now, self.supervisor.process)
        if self.conn is None:
            return
        try:
            while self.conn.poll():
                kind, level, text = self.conn.recv()
                log.log(level, "%s: %s", self.name, text)
        except (EOFError, OSError, ValueError):
            pass  # it died; the supervisor restarts it

    def send(self, message) -> bool:
        """False when the child is not there to take it (the next one gets the owner's state anew)."""
        if self.conn is None:
            return False
        try:
            self.conn.send(message)
            return True
        except (OSError, ValueError):
            return False

    @property
    def restarts(self) -> int:
        return self.supervisor.restarts

    @property
    def pid(self) -> int | None:
        process = self.supervisor.process
        return process.pid if process is not None else None

    def close(self) -> None:
        self.send(None)
        self.supervisor.stop()
        self._close_conn()

    def _launch(self):
        import multiprocessing as mp

        # A fork server is started clean (never a fork of the show, with its threads and SDL state).
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(self.preload)
        ours, theirs = ctx.Pipe()
        process = ctx.Process(target=_run, name=self.name, daemon=True,
                              args=(self.target, os.getpid(), *self.args, theirs,
                                    logging.getLogger().getEffectiveLevel()))
        process.start()
        theirs.close()
        self._close_conn()
        self.conn = ours
        self.launches += 1
        self.watch.launched(time.monotonic())  # the new child's heartbeat is timed from its start
        return process

    def _close_conn(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _run(target, show: int, *args) -> None:
    """A child's first step: die with the fork server, which ends when the show does (even by kill -9)."""
    end_with_parent(show)
    target(*args)
