"""The player: a process of its own that holds the sounddevice stream, so its Python callback has the GIL
to itself.

In the show process the callback had to take the GIL from the drawing loop, the controllers and the
recorder, and on a busy 2-core machine it started late now and then: underruns (docs/benchmarks.md, Audio).
Here the only other thread is this process's main loop, which sleeps in a pipe poll that releases the
GIL and wakes every 50 ms for a few microseconds of work.

    callback      mixer.process over the rings -> the sound card; a copy to the tap; counts and timings
    main thread   keeps the stream open (engine/mix/stream.py), beats its heart, stops when told

Everything it shares with the show lives in one shared-memory block (`player_layout`): the mixer's
numbers and slot table, which the show's board writes; the tap ring, which the show drains; the counters
and callback timings, which the show reads as `AudioEngine.stats`.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import time

import numpy as np

from engine.processes.child import log_to_parent
from engine.mix.mixer import Mixer, mixer_layout
from engine.mix.ring import RingFeed, Rings
from engine.processes.shared import SharedArrays
from engine.mix.jackports import Connections, client_name, name_client
from engine.mix.stream import NO_SPEAKERS, StreamKeeper
from engine.mix.tap import Taps, tap_layout
from engine.settings.config import AudioSettings

log = logging.getLogger(__name__)

TIMINGS = 16384          # callback durations kept for the percentiles (about three minutes at 512 / 48 kHz)
TICK_SECONDS = 0.05      # the main loop's pace
SWITCH_INTERVAL = 0.001  # seconds a thread may keep the GIL when another asks for it (Python's default: 0.005)
CALLBACKS, UNDERRUNS, ERRORS, FRAME, STREAM_RESTARTS, HEARTBEAT = range(6)
DEVICE_BYTES = 512       # "name\nhost API" of the output, UTF-8
LOOK_SECONDS = 3.0       # between looks at where the output goes


def player_layout(slots: int, block: int, tap_blocks: int) -> dict:
    return mixer_layout(slots) | tap_layout(block, tap_blocks) | {
        "stats": ((6,), np.int64),            # CALLBACKS ... HEARTBEAT above
        "timings": ((TIMINGS,), np.float64),  # seconds each callback took, a ring by callback number
        "started": ((TIMINGS,), np.float64),  # perf_counter() when each began: late starts show as long gaps
        "device": ((DEVICE_BYTES,), np.uint8)}  # the output the first player opened: its successors reopen it


class Player:
    """The callback and what it touches, over the shared block and the rings."""

    def __init__(self, settings: AudioSettings, shared: SharedArrays, rings: Rings, high_water: int):
        slots, tap_blocks = len(shared.epochs), len(shared.tap_blocks)
        self.mixer = Mixer(slots, settings.samplerate, settings.blocksize, high_water=high_water, shared=shared,
                           feed_for=lambda slot, epoch: RingFeed(rings, slot, epoch))
        self.taps = Taps(settings.blocksize, tap_blocks, shared)
        self.stats, self.timings, self.started = shared.stats, shared.timings, shared.started
        self.device = shared.device
        self.keeper = StreamKeeper(settings, self.callback, pinned=self._pinned(), on_pinned=self._pin)
        self.connections = None       # engine/mix/jackports.Connections, where the output goes through JACK
        self._connected: bool | None = None
        self._next_look = 0.0

    def callback(self, outdata, frames, time_info, status) -> None:
        began = time.perf_counter()  # CLOCK_MONOTONIC: comparable with the show process's clock
        stats = self.stats
        if status.output_underflow:
            stats[UNDERRUNS] += 1
        try:
            self.mixer.process(outdata)
        except Exception:  # counted; silence rather than a dead stream
            stats[ERRORS] += 1
            outdata.fill(0.0)
        self.taps.push(outdata, stats[FRAME])
        stats[FRAME] += frames
        n = int(stats[CALLBACKS])
        self.timings[n % TIMINGS] = time.perf_counter() - began
        self.started[n % TIMINGS] = began
        stats[CALLBACKS] = n + 1
        self.keeper.callbacks = n + 1

    def tick(self, now: float) -> None:
        restarts = self.keeper.restarts
        self.keeper.check(now)
        self.stats[STREAM_RESTARTS] += self.keeper.restarts - restarts  # counted across player restarts
        self.stats[HEARTBEAT] += 1
        if now >= self._next_look:
            self._next_look = now + LOOK_SECONDS
            self._look_at_connections()

    def _look_at_connections(self) -> None:
        """Say when the output reaches nothing (JACK ports connected to nobody), and when it does again."""
        if self.connections is None or self.keeper.stream is None:
            return
        connected = self.connections.of_ours()
        if connected == 0 and self._connected is not False:
            log.warning("audio: the output reaches no speakers: the JACK ports of %s are connected to nothing "
                        "(connect them, e.g. jack_connect %s:out_0 system:playback_1)", client_name(), client_name())
        elif connected and self._connected is False:
            log.info("audio: the output is connected again (%d connections)", connected)
        if connected is not None:
            self._connected = connected > 0

    def _pinned(self) -> tuple[str, str] | None:
        text = bytes(self.device).rstrip(b"\0").decode("utf-8", "replace")
        return tuple(text.split("\n", 1)) if "\n" in text else None

    def _pin(self, pinned: tuple[str, str]) -> None:
        data = "\n".join(pinned).encode()[:DEVICE_BYTES]
        self.device[:] = 0
        self.device[:len(data)] = np.frombuffer(data, np.uint8)


def main(settings: AudioSettings, shared_name: str, slots: int, block: int, tap_blocks: int,
         rings_name: str, capacity: int, high_water: int, conn, level: int) -> None:
    """The player process's entry point."""
    log_to_parent(conn, level)
    shared = SharedArrays(player_layout(slots, block, tap_blocks), shared_name)
    rings = Rings(slots, capacity, rings_name)
    player = Player(settings, shared, rings, high_water)
    # The cyclic garbage collector holds the GIL while it runs; nothing here makes cycles worth it.
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL)
    if settings.device != NO_SPEAKERS:
        import sounddevice as sd

        name_client(sd._libname)  # our JACK ports are then ours to find: postcards-<pid>:out_0 ...
        sd._terminate()
        sd._initialize()
        player.connections = Connections()
    try:
        player.keeper.open()
    except Exception as e:  # no device yet: the main loop keeps trying, the mix runs on the clock meanwhile
        log.warning("cannot open the output (%s); retrying", e)
        player.keeper.run_on_clock()
    parent = os.getppid()
    try:
        while os.getppid() == parent:
            if conn.poll(TICK_SECONDS) and conn.recv() is None:
                break
            player.tick(time.monotonic())
    except (EOFError, OSError, KeyboardInterrupt):
        pass  # the show went away
    finally:
        player.keeper.close()
        if player.connections is not None:
            player.connections.close()
        rings.close()
        shared.close()
