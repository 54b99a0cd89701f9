"""Hot reload: notice scene files that changed, appeared or vanished, by polling their stat.

Polling a handful of small files once a second costs microseconds and needs no extra library or thread;
the Show calls `changed()` from its frame update and decides what to do with each path.
"""

from __future__ import annotations

import os
from pathlib import Path


class SceneWatch:
    def __init__(self, folder: Path, pattern: str = "*.toml"):
        self.folder, self.pattern = Path(folder), pattern
        self._seen = self._snapshot()

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
