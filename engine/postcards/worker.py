"""The postcard sampler: the scene's model paints postcards ahead of the screen, in a process of its own.

`SamplerClient` (main thread, never waits) keeps `config.sampler.queue` postcards ready. It hands seeds
and the current recipe (model, scheduler, steps) to a worker process over a queue; the worker writes each
postcard and the pictures on its way (the reveal's guesses, or a morph's in-betweens) into shared-memory slots
and answers with a small message; the client copies the pictures out and frees the slot. A supervisor
restarts a dead worker with back-off and the seeds it was working on are asked for again, so the sequence
of postcards does not depend on crashes.
(`InlineSampler`, engine/postcards/inline.py, makes the same postcards in the calling process.)
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing as mp
import os
import queue
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from engine.logs import RateLimitedLog
from engine.postcards.cache import PostcardCache, cache_folder
from engine.postcards.maker import PREVIEWS, Postcard, PostcardMaker, Recipe, finished, torch_threads
from engine.postcards.retrace import MODES
from engine.postcards.slots import SlotLayout, SlotPool
from engine.processes.heartbeat import HeartbeatWatch, beat_in_background
from engine.processes.lifeline import end_with_parent
from engine.processes.supervisor import Supervisor

if TYPE_CHECKING:
    from engine.settings.config import Config

log = logging.getLogger(__name__)

RETRY_BROKEN = 60.0  # seconds before a model that failed to load is tried again (it may have been fixed)
WORKER_NICENESS = 10  # added to the worker's niceness (lower CPU priority than the show)
MIN_SIDE = 64       # slot side when no model tells us its size yet
HUNG_SECONDS = 5.0    # a worker whose heartbeat stood still this long is killed and restarted
STARTUP_SECONDS = 60.0  # ... but its first beat may take this long (a fresh process on a busy machine)
JOB_SECONDS = 120.0   # a worker that beats but has not answered this long while it has work is killed too
STABLE_AFTER = 10.0   # a worker that ran this long is restarted at once when it dies (no growing back-off)
SPARE_SECONDS = 10.0  # at most one new spare worker this often


def run_worker(layout: SlotLayout, requests, results, threads: int, device: str) -> None:
    """The worker process: ('recipe', Recipe) | ('job', seed, slots) | ('stop',) in; answers out. It imports
    torch and diffusers, then waits for its first message: a spare worker stands by there."""
    end_with_parent(mp.parent_process().pid)
    # The worker is background work: when cores are short, drawing and the sound go first.
    os.nice(WORKER_NICENESS)
    import torch
    from diffusers import UNet2DModel  # noqa: F401  (the seconds of importing it are spent standing by)

    torch.set_num_threads(threads)
    first = requests.get()
    pool = SlotPool.attach(layout)
    beat_in_background(pool.heartbeat)  # a stopped worker is noticed, a slow step of torch not
    maker = PostcardMaker(device)
    try:
        for message in itertools.chain([first], iter(requests.get, None)):
            if message[0] == "stop":
                return
            if message[0] == "start":  # the first message: a spare worker waits for it
                continue
            if message[0] == "recipe":
                try:
                    maker.use(message[1])
                except Exception as e:  # a broken model must not end the worker: the show reports it
                    maker.recipe = None
                    results.put(("error", message[1], f"{type(e).__name__}: {e}"))
                continue
            _, seed, slots = message
            if maker.recipe is None or maker.model is None:
                results.put(("failed", seed, slots))
                continue
            if maker.model.side > layout.side:
                results.put(("error", maker.recipe, f"model {maker.recipe.model}: postcards of "
                             f"{maker.model.side} px are larger than the {layout.side} px slots"))
                results.put(("failed", seed, slots))
                continue
            start = time.perf_counter()
            painted = maker.paint(seed, len(slots))
            seconds = (time.perf_counter() - start) / len(slots)
            extras = []
            for i, (slot, (picture, previews, morph_from)) in enumerate(zip(slots, painted)):
                extras.append((pool.put(slot, finished(seed + i, picture, previews)), morph_from))
            h, w = painted[0][0].shape[:2]
            results.put(("done", seed, slots, h, w, extras, maker.recipe, seconds))
    finally:
        pool.close()


class SamplerClient:
    """Main-thread side of the sampler worker; every method returns at once."""

    def __init__(self, config: Config, next_seed: Callable[[], int], side: int = MIN_SIDE,
                 *, min_delay: float = 0.5, max_delay: float = 30.0, cache_root: Path | None = None):
        """`cache_root`: keep the postcards painted under cache_root/postcards/ and start each model with
        the ones it painted last (engine/postcards/cache.py); None keeps nothing."""
        self.config = config
        self.next_seed = next_seed
        self.batch = config.sampler.batch
        self.capacity = config.sampler.queue
        # Two batches in flight: one being painted, one waiting, so a new recipe applies within two calls.
        self.pool = SlotPool.create(count=2 * self.batch, frames=PREVIEWS + 1 + len(MODES), side=max(side, MIN_SIDE))
        self.free: list[int] = list(range(2 * self.batch))
        self.in_flight: dict[int, tuple[int, ...]] = {}   # seed -> slots
        self.ready: deque[Postcard] = deque()
        self.cached: deque[Postcard] = deque()  # painted by an earlier show: shown until new ones come
        self.cache_root = cache_root
        self.cache: PostcardCache | None = None
        self.recipe: Recipe | None = None
        self.broken: Recipe | None = None   # the recipe whose model failed to load: no jobs until it changes
        self.stats = {"made": 0, "errors": 0, "discarded": 0}
        self.last_seconds = 0.0
        self._errors = RateLimitedLog(log, interval=30.0)
        self._retry_at = 0.0
        self._requests = self._results = None
        self.watch = HeartbeatWatch("sampler", self.pool.heartbeat, HUNG_SECONDS, startup_seconds=STARTUP_SECONDS)
        self._answered_at = 0.0  # when the worker last answered (or was given work while it had none)
        self._spare: tuple | None = None  # (process, requests, results) of a worker standing by
        self._spare_at = 0.0
        self._made_before = 0     # postcards made before the worker started: a spare waits for its first
        self.supervisor = Supervisor("sampler", self._spawn, min_delay=min_delay, max_delay=max_delay,
                                     stable_after=STABLE_AFTER)
        self.supervisor.launch(time.monotonic())

    def _spawn(self):
        """A worker for the supervisor: the spare standing by when there is one (torch already imported: a
        postcard within seconds of a death), else a new one."""
        self._drop_queues()
        self._requests = self._results = None
        spare, self._spare = self._spare, None
        if spare is not None and spare[0].is_alive():
            process, self._requests, self._results = spare
        else:
            if spare is not None:
                self._drop_queues(*spare[1:])
            process, self._requests, self._results = self._start_worker()
        self._requests.put(("start",))
        self._made_before = self.stats["made"]
        if self.recipe is not None:
            self._requests.put(("recipe", self.recipe))
        self.watch.launched(time.monotonic())
        self._answered_at = time.monotonic()
        return process

    def _start_worker(self) -> tuple:
        """(process, requests, results) of a new worker, which imports torch and then waits for a message."""
        ctx = mp.get_context("spawn")  # never fork a process that has threads (OSC, audio) and SDL state
        requests, results = ctx.Queue(), ctx.Queue()
        process = ctx.Process(target=run_worker, name="postcards-sampler", daemon=True,
                              args=(self.pool.layout, requests, results,
                                    torch_threads(self.config.sampler.threads), self.config.sampler.device))
        try:
            process.start()
        except BaseException:
            self._drop_queues(requests, results)  # no pipes left open for a worker that never came
            raise
        return process, requests, results

    def _keep_a_spare(self, now: float) -> None:
        """Once the worker has painted (its start-up no longer needs the cores), keep a second one standing
        by; one that died is replaced at most every SPARE_SECONDS."""
        if self._spare is not None and not self._spare[0].is_alive():
            _, *queues = self._spare
            self._drop_queues(*queues)
            self._spare = None
        if (self.config.sampler.standby and self._spare is None and self.stats["made"] > self._made_before
                and self.supervisor.process is not None and now >= self._spare_at):
            self._spare_at = now + SPARE_SECONDS
            try:
                self._spare = self._start_worker()
            except Exception as e:  # no memory or processes for it: the show goes on without
                self._errors.warning("sampler: no spare worker (%s: %s)", type(e).__name__, e)

    def _drop_queues(self, *queues) -> None:
        """Forget the queues of a dead worker (a process killed mid-message can leave them unusable)."""
        for q in queues or (self._requests, self._results):
            if q is not None:
                q.cancel_join_thread()
                q.close()

    # ---- what the perform loop calls ----------------------------------------------------------------

    def configure(self, recipe: Recipe) -> None:
        """Make postcards this way from now on; a new model discards the postcards made with the old one."""
        if recipe == self.recipe:
            return
        if self.recipe is None or recipe.model != self.recipe.model:
            self.stats["discarded"] += len(self.ready)
            self.ready.clear()
            self._use_cache(recipe)
        self.recipe, self.broken = recipe, None
        self._tell(("recipe", recipe))  # (a worker started later is told on its start)

    def poll(self, now: float) -> None:
        """Collect finished postcards, look after the worker, and ask for more where there is room."""
        self._watch_worker(now)
        self._keep_a_spare(now)
        if self.supervisor.check(now):
            # A new worker: the seeds the dead one was painting are asked for again, in order.
            lost = sorted(self.in_flight.items())
            self.in_flight.clear()
            for seed, slots in lost:
                self._send(seed, slots)
        self._collect(now)
        if self.broken is not None and now >= self._retry_at:
            self.broken = None
            self._tell(("recipe", self.recipe))
        self._ask()

    def take(self) -> Postcard | None:
        """The next postcard: a new one when there is one, else one from the cache, else None."""
        for postcards in (self.ready, self.cached):
            if postcards:
                return postcards.popleft()
        return None

    def peek(self) -> Postcard | None:
        """The postcard `take` would give, left in place."""
        return (self.ready or self.cached or [None])[0]

    @property
    def pending(self) -> int:
        """Postcards ready or being painted."""
        return len(self.ready) + sum(len(s) for s in self.in_flight.values())

    def close(self) -> None:
        if self.supervisor.process is not None:
            self._tell(("stop",))
        if self._spare is not None:
            process, requests, results = self._spare
            requests.put(("stop",))
            process.join(2.0)
            if process.is_alive():
                process.kill()
                process.join(2.0)
            self._drop_queues(requests, results)
            self._spare = None
        self.supervisor.stop()
        self._drop_queues()
        self.pool.close()
        if self.cache is not None:
            self.cache.close()

    # ---- internals ------------------------------------------------------------------------------------

    def _collect(self, now: float) -> None:
        while self._results is not None:
            try:
                message = self._results.get_nowait()
            except (queue.Empty, OSError, ValueError, EOFError):
                return
            kind = message[0]
            self._answered_at = now
            if kind == "error":
                _, recipe, text = message
                self.stats["errors"] += 1
                if recipe == self.recipe:
                    self.broken, self._retry_at = recipe, now + RETRY_BROKEN
                self._errors.warning("sampler: %s; the show goes on with the postcards it has", text)
            elif kind == "failed":
                _, seed, slots = message
                self._release(seed, slots)
            else:
                _, seed, slots, h, w, extras, recipe, seconds = message
                for i, (slot, (held, morph_from)) in enumerate(zip(slots, extras)):
                    if self.recipe is not None and recipe.model != self.recipe.model:
                        self.stats["discarded"] += 1
                        continue
                    postcard = self.pool.get(slot, seed + i, h, w, held, recipe=recipe, seconds=seconds,
                                             morph_from=morph_from)
                    self.ready.append(postcard)
                    self.stats["made"] += 1
                    if self.cache is not None:
                        self.cache.add(postcard)
                self.last_seconds = seconds
                self._release(seed, slots)

    def _use_cache(self, recipe: Recipe) -> None:
        """Keep the new model's postcards, and start with those it painted last (a picture at once)."""
        if self.cache is not None:
            self.cache.close()
        self.cache, self.cached = None, deque()
        if self.cache_root is not None:
            self.cache = PostcardCache(cache_folder(self.cache_root, Path(recipe.model)), Path(recipe.model))
            self.cached.extend(self.cache.load(recipe))

    def _watch_worker(self, now: float) -> None:
        """Kill a worker that stopped beating (SIGSTOP, a hang with the GIL held) or that beats but has not
        answered for JOB_SECONDS while it has work (a hang in torch's own threads); it is restarted."""
        process = self.supervisor.process
        if self.watch.check(now, process):
            return
        if self.in_flight and process is not None and process.is_alive() and now - self._answered_at > JOB_SECONDS:
            log.warning("sampler: no postcard for %.0f s while painting; killing it (it is restarted)",
                        now - self._answered_at)
            process.kill()
            self._answered_at = now

    def _release(self, seed: int, slots: tuple[int, ...]) -> None:
        if self.in_flight.pop(seed, None) is not None:
            self.free.extend(slots)

    def _ask(self) -> None:
        if self.recipe is None or self.recipe == self.broken or self.supervisor.process is None:
            return
        while len(self.free) >= self.batch and self.pending + self.batch <= self.capacity:
            slots = tuple(self.free[:self.batch])
            del self.free[:self.batch]
            seed = self.next_seed()
            for _ in range(self.batch - 1):  # a batch paints consecutive seeds
                self.next_seed()
            self._send(seed, slots)

    def _send(self, seed: int, slots: tuple[int, ...]) -> None:
        if not self.in_flight:
            self._answered_at = time.monotonic()  # the wait for an answer starts now
        self.in_flight[seed] = slots
        self._tell(("job", seed, slots))

    def _tell(self, message: tuple) -> None:
        if self._requests is not None:  # None only while no worker could be started
            self._requests.put(message)
