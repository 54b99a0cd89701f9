"""Named numpy arrays in one shared-memory block: the show process creates it, its workers attach.

The live sound runs in three processes (docs/sound.md): the show, the soundscape worker and the player;
the postcards are painted in a fourth. What they share (the rings of sound, the mixer's targets, the
player's counters, the recorder's tap, the postcards' picture slots) lives in blocks like this one, laid
out by a dict {name: (shape, dtype)} that both sides build the same way. `local=True` gives the same
arrays in plain memory, for offline rendering and tests.

A block is a file in /dev/shm named `postcards-<pid of its creator>-<n>`, mapped by each side, and removed
by its creator when done. The name says whose it is, so a show that died without cleaning up (kill -9, the
OOM killer) leaves nothing for long: the first block the next show creates removes every block whose
creator is gone (`clean_leftovers`). multiprocessing's SharedMemory is not used: it registers each block
with a resource tracker process, which dies with the group it belongs to and then cleans up nothing.
"""

from __future__ import annotations

import itertools
import logging
import mmap
import os
import re
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

ALIGN = 64  # each array starts on its own cache line: the two processes write different arrays
SHM = Path("/dev/shm")
PREFIX = "postcards-"
_OURS = re.compile(re.escape(PREFIX) + r"(\d+)-\d+$")
_SEMAPHORE = re.compile(r"sem\.mp-\w+$")  # multiprocessing's named semaphores (its queues' locks)
_counter = itertools.count()
_cleaned = False


def _offsets(layout: dict) -> tuple[dict, int]:
    offsets, size = {}, 0
    for name, (shape, dtype) in layout.items():
        offsets[name] = size
        size += -(-int(np.prod(shape)) * np.dtype(dtype).itemsize // ALIGN) * ALIGN
    return offsets, max(size, ALIGN)


class SharedArrays:
    def __init__(self, layout: dict, name: str | None = None, local: bool = False):
        """Create the block (name=None), attach to an existing one by name, or (local) use plain memory.
        A fresh block is zeroed (by the operating system, as any new shared memory)."""
        offsets, size = _offsets(layout)
        self._map = None
        self.owner = name is None
        if local:
            buffer, self.name = bytearray(size), None
        else:
            self.name = _create(size) if name is None else name
            fd = os.open(SHM / self.name, os.O_RDWR)
            try:
                if os.fstat(fd).st_size < size:
                    raise ValueError(f"shared block {self.name}: {os.fstat(fd).st_size} bytes, expected {size}")
                self._map = buffer = mmap.mmap(fd, size)
            finally:
                os.close(fd)
        self.layout = layout
        for key, (shape, dtype) in layout.items():
            setattr(self, key, np.ndarray(shape, dtype, buffer, offsets[key]))

    def close(self) -> None:
        for key in self.layout:
            setattr(self, key, None)
        if self.name is None:
            return
        try:
            self._map.close()
        except BufferError:  # a view is still held somewhere: the mapping goes when that does
            pass
        if self.owner:
            _unlink(self.name)
        self.name = self._map = None


def _create(size: int) -> str:
    global _cleaned
    if not _cleaned:
        _cleaned = True
        clean_leftovers()
    while True:
        name = f"{PREFIX}{os.getpid()}-{next(_counter)}"
        try:
            fd = os.open(SHM / name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # left by an earlier process that had our pid: ours to remove
            _unlink(name)
            continue
        try:
            os.ftruncate(fd, size)
        finally:
            os.close(fd)
        return name


def _unlink(name: str) -> None:
    try:
        os.unlink(SHM / name)
    except FileNotFoundError:
        pass


def clean_leftovers() -> list[str]:
    """Remove the blocks of shows that are gone, and multiprocessing semaphores no live process holds (its
    queues' locks; a group killed with its resource tracker leaves them). Returns the names removed."""
    try:
        names = os.listdir(SHM)
    except OSError:
        return []
    removed = []
    held = None
    for name in names:
        ours = _OURS.match(name)
        if ours:
            if _alive(int(ours.group(1))):
                continue
        elif _SEMAPHORE.match(name) and _mine(name):
            held = _mapped() if held is None else held
            try:
                if os.stat(SHM / name).st_ino in held:
                    continue
            except OSError:
                continue
        else:
            continue
        _unlink(name)
        removed.append(name)
    if removed:
        log.info("removed %d shared-memory leftovers of a show that ended without cleaning up: %s",
                 len(removed), ", ".join(removed[:5]) + (" ..." if len(removed) > 5 else ""))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: not ours to judge
    return True


def _mine(name: str) -> bool:
    try:
        return os.stat(SHM / name).st_uid == os.getuid()  # our user's processes are the ones we can see
    except OSError:
        return False


def _mapped() -> set[int]:
    """The inodes of every file in /dev/shm some live process has mapped (a semaphore in use always is). By
    inode, not name: glibc maps a new semaphore under a temporary name and links it to its own after."""
    inodes = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/maps") as maps:
                inodes.update(int(line.split(None, 5)[4]) for line in maps if str(SHM) in line)
        except (OSError, IndexError, ValueError):
            continue
    return inodes
