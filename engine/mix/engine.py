"""The live sound: three processes and the shared memory between them (docs/sound.md, Live audio).

    show process    set_scene, the board's set_* -> the mixer's targets and slot table (shared)
                    housekeeping, every 50 ms: free faded slots, send the worker its plan, look after the
                    worker and the player (restart with back-off, kill when hung)
                    taps thread: hands each mixed block to the recorder
    worker          (engine/mix/worker.py) renders every layer `ahead_seconds` ahead into the rings
    player          (engine/mix/player.py) the sounddevice stream; its callback mixes the rings into
                    the sound card, with the GIL to itself

The player counts and times every callback into shared arrays; `stats` reads them.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np

from engine.settings.config import Config
from engine.logs import RateLimitedLog
from engine.settings.scenes import Scene

from engine.mix.board import Board
from engine.processes.child import Child
from engine.mix.mixer import Mixer
from engine.mix.player import CALLBACKS, ERRORS, HEARTBEAT, STREAM_RESTARTS, TIMINGS, UNDERRUNS, player_layout
from engine.mix.player import main as player_main
from engine.mix.ring import Rings
from engine.processes.shared import SharedArrays
from engine.mix.stream import find_output
from engine.mix.tap import Taps
from engine.mix.ticker import Ticker
from engine.mix.worker import PRELOAD, WorkerHost

log = logging.getLogger(__name__)

SLOTS = 16
HOUSEKEEPING_SECONDS = 0.05
TAP_SECONDS = 4.0     # how far the recorder may fall behind before blocks are dropped


class AudioEngine:
    def __init__(self, config: Config, scene: Scene, seed: int | None = None):
        self.config, self.scene = config, scene
        settings = config.audio
        self.samplerate, self.block = settings.samplerate, settings.blocksize
        self.seed = seed if seed is not None else time.time_ns() % 2 ** 31
        self.ahead = math.ceil(settings.ahead_seconds * self.samplerate / self.block) * self.block
        self.capacity = self.ahead + 4 * self.block  # room for the worker's last chunk over the mark
        self.tap_blocks = math.ceil(TAP_SECONDS * self.samplerate / self.block)
        self.shared: SharedArrays | None = None
        self.rings: Rings | None = None
        self.mixer: Mixer | None = None
        self.board: Board | None = None
        self.host: WorkerHost | None = None
        self.player: Child | None = None
        self.taps: Taps | None = None
        self._listeners: list = []
        self._housekeeper = Ticker("audio housekeeping", self._housekeeping, HOUSEKEEPING_SECONDS)
        self._starving = RateLimitedLog(log, 10.0)
        self._reported = (0, 0, 0)  # starved, dropped, errors already logged
        self._last_stats = {}

    # -- the contract ---------------------------------------------------------------------------------------

    def start(self) -> None:
        find_output(self.config.audio.device)  # a device name that matches nothing: say so now (UserError)
        high_water = self.ahead // 4
        self.rings = Rings(SLOTS, self.capacity)
        self.shared = SharedArrays(player_layout(SLOTS, self.block, self.tap_blocks))
        self.mixer = Mixer(SLOTS, self.samplerate, self.block, high_water=high_water, shared=self.shared)
        self.taps = Taps(self.block, self.tap_blocks, self.shared)
        for fn in self._listeners:
            self.taps.add(fn)
        self.host = WorkerHost(self.rings, self.samplerate, self.ahead)
        self.board = Board(self.mixer, self.host, self.seed, self.config.audio.master)
        self.board.set_scene(self.scene)
        self.host.launch()
        heartbeat = self.shared.stats[HEARTBEAT:HEARTBEAT + 1]
        self.player = Child("audio player", player_main,
                            (self.config.audio, self.shared.name, SLOTS, self.block, self.tap_blocks,
                             self.rings.name, self.capacity, high_water),
                            heartbeat, preload=PRELOAD, min_delay=0.25, max_delay=10.0, stable_after=30.0)
        self.player.launch()
        self.taps.start()
        self._housekeeper.start()

    def stop(self) -> None:
        self._housekeeper.stop()
        if self.shared is not None:
            self._last_stats = self.stats
        if self.player is not None:
            self.player.close()
            self.player = None
        if self.taps is not None:
            self.taps.stop()
        if self.host is not None:
            self.host.close()
        for block in (self.rings, self.shared):
            if block is not None:
                block.close()
        # Nothing may touch the shared arrays once they are unmapped.
        self.rings = self.shared = self.mixer = self.taps = self.board = self.host = None

    def set_scene(self, scene: Scene) -> None:
        self.scene = scene
        if self.board is not None:
            self.board.set_scene(scene)

    def add_tap(self, fn) -> None:
        self._listeners.append(fn)
        if self.taps is not None:
            self.taps.add(fn)

    @property
    def callbacks(self) -> int:
        return int(self.shared.stats[CALLBACKS]) if self.shared is not None else 0

    @property
    def timings(self) -> np.ndarray:
        """Seconds each callback took, by callback number modulo TIMINGS."""
        return self.shared.timings

    @property
    def started(self) -> np.ndarray:
        """perf_counter() at each callback's start (the same clock in every process), as `timings`."""
        return self.shared.started

    @property
    def stats(self) -> dict:
        """The player's counts and callback time, the restarts, the starved layers; after stop, the last."""
        if self.shared is None:
            return self._last_stats
        counts = self.shared.stats
        n = min(int(counts[CALLBACKS]), TIMINGS)
        p50, p99 = (np.percentile(self.shared.timings[:n], [50, 99]) * 1000).tolist() if n else (0.0, 0.0)
        return {"callbacks": int(counts[CALLBACKS]), "underruns": int(counts[UNDERRUNS]),
                "callback_ms_p50": p50, "callback_ms_p99": p99,
                "worker_restarts": self.host.restarts if self.host else 0,
                "player_restarts": self.player.restarts if self.player else 0,
                "stream_restarts": int(counts[STREAM_RESTARTS]),
                "ring_starved": self.mixer.starved if self.mixer else 0,
                "tap_dropped": self.taps.dropped if self.taps else 0, "callback_errors": int(counts[ERRORS])}

    # -- housekeeping thread --------------------------------------------------------------------------------

    def _housekeeping(self) -> None:
        now = time.monotonic()
        self.board.tick()
        self.host.check(now)
        self.player.check(now)
        self._report()

    def _report(self) -> None:
        starved, dropped, errors = self.mixer.starved, self.taps.dropped, int(self.shared.stats[ERRORS])
        if (starved, dropped, errors) != self._reported:
            self._starving.warning("audio: %d layer starvations (the worker fell behind), %d tap blocks "
                                   "dropped, %d callback errors so far", starved, dropped, errors)
            self._reported = (starved, dropped, errors)
