"""Hot reload: notice scene files that changed, appeared or vanished, by polling their stat, and read them on a
thread of their own.

Polling a handful of small files once a second costs microseconds and needs no extra library. The looking and
the reading happen off the frame thread (a file on a slow disk, or one a hostile hand made large, must not
hold a frame back): the Show calls `poll()` from its frame update, which starts a look in the background
unless one is still under way and returns what earlier looks found. Reading itself is bounded (regular files
of at most 64 KiB that stay inside the folder: engine.settings.schema.read_toml).
"""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path
from typing import Any, Callable

from engine.settings.schema import SettingsError


class SceneWatch:
    def __init__(self, folder: Path, load: Callable[[Path], Any] | None = None, pattern: str = "*.toml"):
        """`load(path)` reads a changed file (on the watch's thread); it may raise SettingsError."""
        self.folder, self.load, self.pattern = Path(folder), load, pattern
        self._seen = self._snapshot()
        self._found: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def _snapshot(self) -> dict[Path, tuple[int, int]]:
        seen = {}
        for path in self.folder.glob(self.pattern):
            try:
                st = os.stat(path)
            except OSError:  # vanished between glob and stat
                continue
            seen[path] = (st.st_mtime_ns, st.st_size)
        return seen

    def changed(self) -> list[Path]:
        """Files written, created or removed since the last call (sorted)."""
        now = self._snapshot()
        paths = {p for p in now.keys() | self._seen.keys() if now.get(p) != self._seen.get(p)}
        self._seen = now
        return sorted(paths)

    def poll(self) -> list[tuple[Path, Any]]:
        """Never waits: what earlier looks found, as (path, what load returned | the SettingsError it raised |
        None for a removed file); and a new look starts unless one is still under way."""
        found = []
        while True:
            try:
                found.append(self._found.get_nowait())
            except queue.Empty:
                break
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._look, name="scene-watch", daemon=True)
            self._thread.start()
        return found

    def join(self, timeout: float = 5.0) -> None:
        """Wait for the look under way (tests, tools; never the frame loop)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _look(self) -> None:
        for path in self.changed():
            if not path.exists():
                self._found.put((path, None))
                continue
            try:
                self._found.put((path, self.load(path)))
            except SettingsError as e:
                self._found.put((path, e))
            except Exception as e:  # a bug in reading one file must not end the watching
                self._found.put((path, SettingsError([f"{path}: not loaded: {type(e).__name__}: {e}"[:300]])))
