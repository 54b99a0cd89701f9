"""Named numpy arrays in one shared-memory block: the show process creates it, its workers attach.

The live sound runs in three processes (docs/sound.md): the show, the soundscape worker and the player;
the postcards are painted in a fourth. What they share (the rings of sound, the mixer's targets, the
player's counters, the recorder's tap, the postcards' picture slots) lives in blocks like this one, laid
out by a dict {name: (shape, dtype)} that both sides build the same way. `local=True` gives the same
arrays in plain memory, for offline rendering and tests.
"""

from __future__ import annotations

from multiprocessing import shared_memory
import numpy as np

ALIGN = 64  # each array starts on its own cache line: the two processes write different arrays


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
        self.shm = None
        if local:
            buffer = bytearray(size)
        else:
            # An attaching process started by the show (fork server or spawn) shares its resource tracker, so
            # attaching registers nothing new and the owner's unlink() is the one clean-up.
            self.shm = shared_memory.SharedMemory(name=name, create=name is None, size=size if name is None else 0)
            buffer = self.shm.buf
        self.owner = name is None
        self.name = self.shm.name if self.shm is not None else None
        self.layout = layout
        for key, (shape, dtype) in layout.items():
            setattr(self, key, np.ndarray(shape, dtype, buffer, offsets[key]))

    def close(self) -> None:
        for key in self.layout:
            setattr(self, key, None)
        if self.shm is None:
            return
        try:
            self.shm.close()
        except BufferError:  # a view is still held somewhere: the mapping goes when that does
            pass
        if self.owner:
            self.shm.unlink()
        self.shm = None
