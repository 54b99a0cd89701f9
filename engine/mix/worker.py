"""The soundscape worker: a process that renders every playing layer ahead into the shared-memory rings.

The live engine keeps the worker told what to play by sending its whole plan, {slot: (epoch, name,
layer, seed, density)}, whenever it changes and after every restart, over a pipe; the worker starts,
stops and retunes voices to match and keeps each ring `ahead` frames in front of the reader. Its log
lines travel back over the same pipe, so they land in the show's own log (engine/processes/child.py).

A restarted worker (the old one was killed) finds each ring still holding the dead worker's last second
or two. It does not start after that sound with a jump: it overwrites the newest few blocks with a
crossfade from the old sound into its fresh voice, so the seam is inaudible if the reader has not yet
reached them, and starts from the reader's position otherwise (the mixer has faded that layer out).
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np

from engine.mix.ring import EPOCH, READ, WRITTEN, Rings
from engine.processes.child import log_to_parent
from engine.sound.sources import open_source, sanitize

CHUNK = 2048         # frames rendered per voice per pass: keeps every layer topped up in turn
SPLICE = 4096        # frames of crossfade from a dead worker's sound into the new worker's
SAFETY = 4096        # frames the splice stays clear of the reader
LEAD = 2 * SAFETY + SPLICE  # frames of queued sound kept when a voice changes (~0.26 s at 48 kHz)
IDLE_SLEEP = 0.005
# Added to the worker's niceness: it renders seconds ahead, the player must never wait, so when cores are
# short the player goes first, then this worker, then the postcard worker (10, engine/postcards/worker.py).
NICENESS = 5
# Imported once by the fork server that starts the worker and the player: on a busy 2-core machine a
# spawned worker took ~3 s to start, longer than the rings hold. Never sounddevice here: importing it
# starts PortAudio, which must not be shared by the fork server's children. scipy.signal is named too: the
# voices import it only where they filter (so that reading the settings stays light), and a worker should
# not pay for that import (~0.6 s) when its first sound is due.
PRELOAD = ["engine.mix.worker", "engine.mix.player", "engine.sound.voices", "scipy.signal", "scipy.linalg"]


def main(rings_name: str, slots: int, capacity: int, samplerate: int, ahead: int, conn, level: int) -> None:
    """The worker process's entry point."""
    log_to_parent(conn, level)
    os.nice(NICENESS)
    rings = Rings(slots, capacity, rings_name)
    voices: dict[int, tuple[int, object]] = {}  # slot -> (epoch, source)
    parent = os.getppid()
    try:
        while os.getppid() == parent:
            while conn.poll():
                message = conn.recv()
                if message is None:
                    return
                follow(message, voices, rings, samplerate)
            rings.heartbeat[0] += 1
            if not fill(voices, rings, ahead):
                time.sleep(IDLE_SLEEP)
    except (EOFError, OSError, KeyboardInterrupt):
        pass  # the parent went away
    finally:
        rings.close()


def follow(plan: dict, voices: dict, rings: Rings, samplerate: int) -> None:
    """Make `voices` match the plan."""
    for slot in [s for s in voices if s not in plan or plan[s][0] != voices[s][0]]:
        del voices[slot]
    for slot, (epoch, name, layer, seed, density) in plan.items():
        if slot not in voices:
            try:
                source = open_source(name, layer, samplerate, seed)
            except Exception:  # one broken voice must not take the others down
                logging.getLogger(__name__).exception("layer %s: cannot make its voice; it stays silent", name)
                continue
            source.density = density
            if rings.header[slot, EPOCH] == epoch:
                splice(rings, slot, source)  # a restart: carry on from the dead worker's sound
            else:
                rings.header[slot, WRITTEN] = rings.header[slot, READ]
                rings.header[slot, EPOCH] = epoch
            voices[slot] = (epoch, source)
        elif voices[slot][1].density != density:
            voices[slot][1].density = density
            redo_ahead(rings, slot, voices[slot][1])


def redo_ahead(rings: Rings, slot: int, source) -> None:
    """A changed voice would be heard only once the sound already queued for it had played: up to `ahead`
    (2 s) late, too slow for a performer's fader. So the queue is cut back to LEAD frames and the voice as it
    is now is spliced in over its last SPLICE frames; the fill loop tops the ring up again."""
    cut = int(rings.header[slot, READ]) + LEAD
    if rings.header[slot, WRITTEN] > cut:
        rings.header[slot, WRITTEN] = cut  # the reader is LEAD frames short of anything changed here
        splice(rings, slot, source)


def splice(rings: Rings, slot: int, source) -> None:
    """Crossfade the ring's newest SPLICE frames into `source`'s next ones (unless the reader is too close)."""
    written, read = int(rings.header[slot, WRITTEN]), int(rings.header[slot, READ])
    start = written - SPLICE
    if start < read + SAFETY:
        rings.header[slot, WRITTEN] = max(written, read)
        return
    old = rings.get(slot, start, SPLICE)
    new = sanitize(source.render(SPLICE))
    phase = ((np.arange(SPLICE, dtype=np.float32) + 0.5) / SPLICE * (np.pi / 2))[:, None]
    rings.put(slot, start, old * np.cos(phase) + new * np.sin(phase))


def fill(voices: dict, rings: Rings, ahead: int) -> bool:
    """One pass: top up the ring furthest behind by a chunk. False when every ring is full enough."""
    behind = [(rings.ahead(slot), slot) for slot in voices if rings.ahead(slot) < ahead]
    if not behind:
        return False
    _, slot = min(behind)
    frames = min(CHUNK, ahead - rings.ahead(slot))
    rings.write(slot, sanitize(voices[slot][1].render(frames)))
    return True


class WorkerHost:
    """The live engine's side of the worker: the plan, sent to each worker it starts (engine/processes/child.py).

    `start/stop/density` are called by the board (under its lock); `check(now)` by the engine's
    housekeeping thread only, which alone touches the pipe. `start` returns no feed: the player process
    reads the ring (engine/mix/player.py)."""

    def __init__(self, rings: Rings, samplerate: int, ahead: int):
        from engine.processes.child import Child

        self.rings = rings
        self.plan: dict[int, tuple] = {}
        self.dirty = True
        self.child = Child("soundscape", main, (rings.name, rings.slots, rings.capacity, samplerate, ahead),
                           rings.heartbeat, preload=PRELOAD, min_delay=0.25, max_delay=10.0, stable_after=30.0)
        self._sent_to = 0  # the child (by launch number) that has the plan

    def start(self, slot: int, epoch: int, name: str, layer, seed: int) -> None:
        self.plan[slot] = (epoch, name, layer, seed, layer.density)
        self.dirty = True

    def stop(self, slot: int) -> None:
        self.plan.pop(slot, None)
        self.dirty = True

    def density(self, slot: int, value: float) -> None:
        if slot in self.plan:
            self.plan[slot] = self.plan[slot][:4] + (value,)
            self.dirty = True

    def launch(self) -> None:
        self.child.launch()

    def check(self, now: float) -> None:
        """Look after the worker (engine/processes/child.py); send it a changed plan, a new one the whole plan."""
        self.child.check(now)
        if (self.dirty or self._sent_to != self.child.launches) and self.child.send(self.plan.copy()):
            self.dirty, self._sent_to = False, self.child.launches

    @property
    def restarts(self) -> int:
        return self.child.restarts

    @property
    def pid(self) -> int | None:
        return self.child.pid

    def close(self) -> None:
        self.child.close()
