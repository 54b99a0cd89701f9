"""The live sound: a sounddevice stream whose callback runs the mixer over rings a worker keeps full.

    main thread   set_scene / apply -> the board (targets, slots, the worker's plan)
    housekeeping  every 50 ms: free faded slots, send the plan, restart a dead worker, reopen a lost stream
    worker        (a process) renders every layer `ahead_seconds` ahead into shared-memory rings
    callback      mixer.process(outdata): copy + gain + sum of preallocated buffers; times itself; tap ring
    taps thread   hands each mixed block to the recorder

The callback counts and times itself into preallocated arrays; `stats` reads them.
"""

from __future__ import annotations

import gc
import logging
import math
import sys
import time

import numpy as np

from engine.config import Config
from engine.errors import UserError
from engine.logs import RateLimitedLog
from engine.scenes import Scene

from engine.audio.board import Board
from engine.audio.mixer import Mixer
from engine.audio.ring import Rings
from engine.audio.stream import StreamKeeper
from engine.audio.tap import Taps
from engine.audio.ticker import Ticker
from engine.audio.worker import WorkerHost

log = logging.getLogger(__name__)

SLOTS = 16
HOUSEKEEPING_SECONDS = 0.05  # rare and short: every thread holding the GIL can delay the callback
TIMINGS = 16384       # callback durations kept for the percentiles (about three minutes at 512 / 48 kHz)
SWITCH_INTERVAL = 0.001  # seconds a thread may keep the GIL when another asks for it (Python's default: 0.005)
TAP_SECONDS = 4.0     # how far the recorder may fall behind before blocks are dropped


class AudioEngine:
    def __init__(self, config: Config, scene: Scene, seed: int | None = None):
        self.config, self.scene = config, scene
        settings = config.audio
        self.samplerate, self.block = settings.samplerate, settings.blocksize
        self.seed = seed if seed is not None else time.time_ns() % 2 ** 31
        self.ahead = math.ceil(settings.ahead_seconds * self.samplerate / self.block) * self.block
        self.capacity = self.ahead + 4 * self.block  # room for the worker's last chunk over the mark
        self.mixer = Mixer(SLOTS, self.samplerate, self.block, high_water=self.ahead // 4)
        self.rings: Rings | None = None
        self.host: WorkerHost | None = None
        self.board: Board | None = None
        self.keeper = StreamKeeper(settings, self._callback)
        self.taps = Taps(self.block, math.ceil(TAP_SECONDS * self.samplerate / self.block))
        self.callbacks = self.underruns = self.errors = 0
        self.frame = 0
        self.timings = np.zeros(TIMINGS)  # seconds each callback took, a ring by callback number
        self.started = np.zeros(TIMINGS)  # perf_counter() when each began: late starts show as long gaps
        self._housekeeper = Ticker("audio housekeeping", self._housekeeping, HOUSEKEEPING_SECONDS)
        self._starving = RateLimitedLog(log, 10.0)
        self._reported = (0, 0, 0)  # starved, dropped, errors already logged

    # -- the contract ---------------------------------------------------------------------------------------

    def start(self) -> None:
        self.rings = Rings(SLOTS, self.capacity)
        self.host = WorkerHost(self.rings, self.samplerate, self.ahead)
        self.board = Board(self.mixer, self.host, self.seed, self.config.audio.master)
        self.board.set_scene(self.scene)
        self.host.launch()
        self.taps.start()
        try:
            self.keeper.open()
        except UserError:  # a device name that matches nothing: say so now
            self.stop()
            raise
        except Exception as e:  # no device yet: the housekeeper keeps trying, the show goes on
            log.warning("audio: cannot open the output (%s); retrying", e)
        self._housekeeper.start()
        # Python's cyclic garbage collector runs in whichever thread allocates when a threshold is crossed,
        # and holds the GIL throughout: a full collection over a show process (torch, pygame: ~220,000
        # objects) took ~200 ms here, silence for the callback whichever thread runs it. Freezing what
        # exists now takes those objects out of every later collection (0.01 ms after freezing).
        gc.freeze()
        # A thread waiting for the GIL asks for it only after the switch interval (5 ms by default): with
        # a Python thread busy beside it, the callback then waits 5 ms at every request, and blocks last
        # 10.67 ms. Measured with a pure-Python busy thread: 287 and 514 underruns in 20 s at 5 ms, 10 and
        # 23 at 1 ms (bench/perform.py measures it again).
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))

    def stop(self) -> None:
        self._housekeeper.stop()
        self.keeper.close()
        self.taps.stop()
        if self.host is not None:
            self.host.close()
            self.host = None
        if self.rings is not None:
            self.mixer.active = ()
            self.mixer.feeds = [None] * SLOTS
            self.rings.close()
            self.rings = None

    def set_scene(self, scene: Scene) -> None:
        self.scene = scene
        if self.board is not None:
            self.board.set_scene(scene)

    def apply(self, address: str, value) -> None:
        self.board.apply(address, value)

    def add_tap(self, fn) -> None:
        self.taps.add(fn)

    @property
    def stats(self) -> dict:
        n = min(self.callbacks, TIMINGS)
        p50, p99 = (np.percentile(self.timings[:n], [50, 99]) * 1000).tolist() if n else (0.0, 0.0)
        return {"callbacks": self.callbacks, "underruns": self.underruns, "callback_ms_p50": p50,
                "callback_ms_p99": p99, "worker_restarts": self.host.restarts if self.host else 0,
                "stream_restarts": self.keeper.restarts, "ring_starved": self.mixer.starved,
                "tap_dropped": self.taps.dropped, "callback_errors": self.errors}

    # -- the audio callback (PortAudio's thread) ------------------------------------------------------------

    def _callback(self, outdata, frames, time_info, status) -> None:
        began = time.perf_counter()
        if status.output_underflow:
            self.underruns += 1
        try:
            self.mixer.process(outdata)
        except Exception:  # counted, logged by the housekeeper; silence rather than a dead stream
            self.errors += 1
            outdata.fill(0.0)
        self.taps.push(outdata, self.frame)
        self.frame += frames
        self.timings[self.callbacks % TIMINGS] = time.perf_counter() - began
        self.started[self.callbacks % TIMINGS] = began
        self.callbacks += 1
        self.keeper.callbacks = self.callbacks

    # -- housekeeping thread --------------------------------------------------------------------------------

    def _housekeeping(self) -> None:
        now = time.monotonic()
        self.board.tick()
        self.host.check(now)
        self.keeper.check(now)
        self._report()

    def _report(self) -> None:
        starved, dropped, errors = self.mixer.starved, self.taps.dropped, self.errors
        if (starved, dropped, errors) != self._reported:
            self._starving.warning("audio: %d layer starvations (the worker fell behind), %d tap blocks "
                                   "dropped, %d callback errors so far", starved, dropped, errors)
            self._reported = (starved, dropped, errors)
