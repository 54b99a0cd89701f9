"""What a long live run needs besides frames: a heartbeat line with the process's health (Linux /proc)."""

from __future__ import annotations

import os
from pathlib import Path

HEARTBEAT_SECONDS = 60.0  # a status line in the log this often: an installation checked from afar


def rss_mib() -> float:
    """Resident memory of this process in MiB (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def open_files() -> int:
    """File descriptors this process holds (Linux)."""
    return len(os.listdir("/proc/self/fd"))


def process_health() -> str:
    """Memory and open files: both stay flat over a long run (the heartbeat line shows it)."""
    try:
        return f"RSS {rss_mib():.0f} MiB, {open_files()} open files"
    except OSError:  # not Linux
        return ""
