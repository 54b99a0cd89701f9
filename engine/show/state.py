"""The Show: the one holder of the performance's state, on the main thread.

Controllers (OSC, MIDI, keys, tests) hand it Commands from any thread with `submit`; once a frame the
perform loop calls `update(now)`, which checks each Command against the address table (engine.show.controls),
applies it, and advances what time drives: the hold timer, the scene schedule, hot reload of scene files.
Every applied change goes once to the listeners that subscribed to its address or a prefix of it
(`show.on("/audio/", fn)`: the mix; `show.on("/", fn)`: OSC feedback), with its value already checked.
The renderer and the sampler read the Show; nothing else changes it.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from pathlib import Path
from typing import Any, Callable

from engine.settings.config import Config
from engine.show.controls import Command, CommandError, Control, coerce, controls_for
from engine.errors import UserError
from engine.logs import RateLimitedLog
from engine.paths import UnsafeNameError
from engine.show.watch import SceneWatch
from engine.settings.scenes import (FEATURES, REACT_TARGETS, TRIGGER, ReactMapping, Scene, load_scene, scene_names,
                                    scene_path)
from engine.show.schedule import Schedule
from engine.show.tempo import EPSILON, ShowTempo
from engine.settings.schema import SettingsError

log = logging.getLogger(__name__)

Listener = Callable[[str, Any, str], None]

# Values a performer sets that outlive a scene change; every other value comes from the new scene.
LASTING = ("/audio/master", "/audio/mute", "/visual/freeze", "/record/active", "/display/fullscreen",
           "/display/overlay", "/tempo/bpm", "/tempo/beat", "/tempo/phase", "/tempo/quantum", "/tempo/source",
           "/tempo/peers") + tuple(f"/audio/{name}" for name in FEATURES)
# Values that move with time, not with Commands: the beat (a state compared over time leaves them out).
MOVING = ("/tempo/beat", "/tempo/phase")
# Changes that wait for the next beat or bar when /tempo/quantise says so (and the next postcard: want_next).
QUANTISED = ("/scene/load", "/scene/next", "/scene/previous")
WATCH_INTERVAL = 1.0     # seconds between looks at the scene files
MAX_WATCHED_LOGS = 64    # scene files whose errors are rate-limited each on their own
SCHEDULE_INTERVAL = 1.0  # seconds between looks at the wall clock


class Show:
    def __init__(self, config: Config, scenes_dir: Path | None = None, scene: str | None = None, *,
                 wall_clock: Callable[[], dt.datetime] = dt.datetime.now, use_schedule: bool = True):
        """`wall_clock`: local time for the schedule (tests pass a fake one); `use_schedule=False` for
        offline renders, whose show time has nothing to do with the time of day."""
        self.config = config
        self.scenes_dir = Path(scenes_dir) if scenes_dir is not None else config.path("scenes")
        self.schedule = Schedule(config.show.schedule if use_schedule else [])
        self.wall_clock = wall_clock
        self.stats: dict[str, int] = {"applied": 0, "rejected": 0, "scene_changes": 0, "reload_errors": 0}
        self._inbox: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self._lock = threading.Lock()  # guards the snapshots other threads read: _controls, _values
        self._listeners: list[tuple[str, Listener]] = []  # (address prefix, listener)
        self._rejections = RateLimitedLog(log)
        self._listener_errors = RateLimitedLog(log)

        self._scheduled = self.schedule.due(wall_clock())
        name = scene or self._scheduled or config.show.scene
        self.scene: Scene = self._load(name, what="--scene" if scene else "show.scene")
        seed = config.sampler.seed if config.sampler.seed >= 0 else int(time.time()) % 2**31
        self._values: dict[str, Any] = {
            "/audio/master": config.audio.master, "/audio/mute": False, "/visual/freeze": False,
            "/record/active": False, "/display/fullscreen": config.display.fullscreen,
            "/display/overlay": False, "/sampler/seed": seed, "/tempo/quantum": config.tempo.quantum,
            **{f"/audio/{name}": 0.0 for name in FEATURES}}
        self.tempo = ShowTempo(config.tempo.bpm, config.tempo.quantum)
        self._values.update(self._tempo_values(0.0))
        self._values.update(self._scene_values(self.scene))
        self._controls = controls_for(tuple(self.scene.sound.layers))

        # Time-driven state.
        self.next_wanted = True       # bring in the next postcard as soon as one is ready
        self.shown_at: float | None = None
        self._now = 0.0               # the time of this frame's update
        self._next_due: float | None = None   # the beat the next postcard waits for (quantised)
        self._waiting: list[tuple[float, Control, Any, str]] = []  # quantised: (beat, control, value, source)
        self.quit_requested = False
        self._watch = SceneWatch(self.scenes_dir, load_scene)
        self._reload_errors: dict[Path, RateLimitedLog] = {}  # a file rewritten every second: one report per 10 s
        self._next_watch = self._next_schedule = float("-inf")

    # ---- any thread -------------------------------------------------------------------------------

    def submit(self, command: Command) -> None:
        """Queue a Command for the next frame; thread-safe and never blocks."""
        self._inbox.put(command)

    def controls(self) -> dict[str, Control]:
        with self._lock:
            return dict(self._controls)

    def values(self) -> dict[str, Any]:
        """The value of every readable address (actions have none)."""
        with self._lock:
            return dict(self._values)

    def on(self, prefix: str, fn: Listener) -> None:
        """Call `fn(address, value, source)` on the main thread for every change to an address that starts
        with `prefix`: one address ("/scene/name"), a family ("/audio/") or everything ("/")."""
        self._listeners.append((prefix, fn))

    # ---- main thread ------------------------------------------------------------------------------

    def get(self, address: str) -> Any:
        """One current value (main thread: no copy)."""
        return self._values[address]

    def update(self, now: float) -> None:
        """Once a frame: apply the Commands submitted since the last frame, then what time drives."""
        self._now = now
        self._follow_tempo(now)
        for _ in range(self._inbox.qsize()):  # only what is there now: a flood cannot hold the frame
            try:
                command = self._inbox.get_nowait()
            except queue.Empty:
                break
            self._apply(command)
        self._run_due(now)
        if not self._values["/visual/freeze"] and self.shown_at is not None:
            if now - self.shown_at >= self._values["/visual/crossfade"] + self._values["/visual/hold"]:
                self.want_next()
        if now >= self._next_watch:
            self._next_watch = now + WATCH_INTERVAL
            self._reload_changed_scenes()
        if self.schedule and now >= self._next_schedule:
            self._next_schedule = now + SCHEDULE_INTERVAL
            self._follow_schedule()

    def want_next(self) -> None:
        """Bring in the next postcard: now, or on the next beat or bar when /tempo/quantise says so."""
        quantise = self._values["/tempo/quantise"]
        if quantise == "off":
            self.next_wanted = True
        elif not self.next_wanted and self._next_due is None:
            self._next_due = self.tempo.clock.next_boundary(self._now, quantise)

    def measure(self, features: dict[str, float]) -> None:
        """The mix's features this frame (/audio/level ...): values to read, not changes to announce."""
        with self._lock:
            self._values.update({f"/audio/{name}": value for name, value in features.items()})

    def postcard_shown(self, now: float) -> None:
        """The renderer began bringing in a new postcard at `now`: the hold timer starts over."""
        self.shown_at = now
        self.next_wanted = False

    def take_seed(self) -> int:
        """The seed for the next postcard; /sampler/seed counts on by one."""
        seed = self._values["/sampler/seed"]
        self._set("/sampler/seed", (seed + 1) % 2**31, "sampler", announce=False)
        return seed

    def report(self, address: str, value: Any, source: str = "engine") -> None:
        """The engine states a fact the performer can only read (e.g. /record/active from the recorder)."""
        if self._values.get(address) != value:
            self._set(address, value, source)

    def load_scene(self, name: str, source: str = "engine") -> None:
        """Switch to scene `name` (raises UserError/SettingsError; the current scene stays on failure)."""
        self._change_scene(self._load(name, what="scene"), source)

    # ---- internals --------------------------------------------------------------------------------

    def _apply(self, command: Command) -> None:
        control = self._controls.get(command.address)
        try:
            if control is None:
                raise CommandError(self._unknown(command.address))
            value = coerce(control, tuple(command.args))
        except CommandError as e:
            self._reject(command.address, command.source, e)
            return
        quantise = self._values["/tempo/quantise"]
        if control.address in QUANTISED and quantise != "off":
            self._waiting.append((self.tempo.clock.next_boundary(self._now, quantise), control, value,
                                  command.source))
        else:
            self._perform(control, value, command.source)

    def _perform(self, control: Control, value: Any, source: str) -> None:
        try:
            self._act(control, value, source)
        except (CommandError, UserError, SettingsError) as e:
            self._reject(control.address, source, e)
            return
        self.stats["applied"] += 1

    def _reject(self, address: str, source: str, problem: Exception) -> None:
        self.stats["rejected"] += 1
        self._rejections.warning("rejected %s from %s: %s", address, source or "?", problem)

    def _run_due(self, now: float) -> None:
        """The quantised changes whose beat has come."""
        beat = self.tempo.clock.beat(now) + EPSILON
        if self._next_due is not None and self._next_due <= beat:
            self.next_wanted, self._next_due = True, None
        due = [waiting for waiting in self._waiting if waiting[0] <= beat]
        if due:
            self._waiting = [waiting for waiting in self._waiting if waiting[0] > beat]
            for _, control, value, source in due:
                self._perform(control, value, source)

    def _follow_tempo(self, now: float) -> None:
        """Tempo and beat from the tempo source; the tempo is announced when its tenth of a BPM changes."""
        before = self._values["/tempo/bpm"]
        self.tempo.follow(now)
        values = self._tempo_values(now)
        with self._lock:
            self._values.update(values)
        if round(values["/tempo/bpm"], 1) != round(before, 1):
            self._notify("/tempo/bpm", values["/tempo/bpm"], self.tempo.leader)

    def _tempo_values(self, now: float) -> dict[str, Any]:
        clock = self.tempo.clock
        return {"/tempo/bpm": clock.bpm, "/tempo/beat": clock.beat(now), "/tempo/phase": clock.phase(now),
                "/tempo/source": self.tempo.leader, "/tempo/peers": self.tempo.peers}

    def _unknown(self, address: str) -> str:
        layers = self.scene.sound.layers
        name = address[len("/audio/layer/"):].rpartition("/")[0] if address.startswith("/audio/layer/") else ""
        if name and name not in layers:
            return f"{address}: no layer {name!r} in this scene (layers: {', '.join(layers) or 'none'})"
        return f"{address}: unknown address"

    def _act(self, control: Control, value: Any, source: str) -> None:
        address = control.address
        if address == "/scene/load":
            self.load_scene(value, source)
        elif address in ("/scene/next", "/scene/previous"):
            names = scene_names(self.scenes_dir) or [self.scene.name]
            here = names.index(self.scene.name) if self.scene.name in names else -1
            step = 1 if address == "/scene/next" else -1
            self.load_scene(names[(here + step) % len(names)], source)
        elif address == "/state":
            for key, current in self.values().items():
                self._notify(key, current, source)
        elif address == "/visual/next":
            self.want_next()
            self._notify(address, None, source)
        elif address == "/tempo/tap":
            self.tempo.tap(self._now)
            self._follow_tempo(self._now)
        elif address == "/tempo/bpm":
            self.tempo.set_bpm(value, self._now)
            self._set(address, value, source)
        elif address == "/tempo/quantum":
            self.tempo.clock.quantum = value
            self._set(address, value, source)
        elif address == "/show/quit":
            self.quit_requested = True
            self._notify(address, None, source)
        elif control.kind == "" or control.access == "w":
            self._notify(address, value, source)  # /record/start, /midi/learn ...: the listeners act
        else:
            self._set(address, value, source)

    def _set(self, address: str, value: Any, source: str, announce: bool = True) -> None:
        with self._lock:
            self._values[address] = value
        if announce:
            self._notify(address, value, source)

    def _notify(self, address: str, value: Any, source: str) -> None:
        for prefix, fn in list(self._listeners):
            if not address.startswith(prefix):
                continue
            try:
                fn(address, value, source)
            except Exception as e:  # a listener's bug must never stop the show
                self._listener_errors.warning("listener %r failed on %s: %s: %s",
                                              getattr(fn, "__qualname__", fn), address, type(e).__name__, e)

    def _load(self, name: str, what: str) -> Scene:
        try:
            path = scene_path(self.scenes_dir, name)
        except UnsafeNameError as e:
            raise UserError(f"{what}: {e}") from None
        if not path.is_file():
            known = ", ".join(scene_names(self.scenes_dir)) or "none"
            raise UserError(f"{what}: expected a scene in {self.scenes_dir} ({known}), found no {path.name}")
        return load_scene(path)

    @staticmethod
    def _scene_values(scene: Scene) -> dict[str, Any]:
        v = scene.visual
        values = {"/scene/name": scene.name, "/visual/hold": v.hold, "/visual/crossfade": v.crossfade,
                  "/visual/black": v.black, "/visual/reveal": v.transition == "reveal", "/visual/drift": v.drift,
                  "/sampler/steps": v.steps, "/sampler/scheduler": v.scheduler,
                  "/visual/retrace": v.retrace, "/visual/retrace_mode": v.retrace_mode}
        if v.seed >= 0:
            values["/sampler/seed"] = v.seed
        values["/tempo/quantise"] = v.quantise
        for target, (low, high, _, _) in REACT_TARGETS.items():
            mapping = v.react.get(target, ReactMapping())
            values.update({f"/react/{target}/source": mapping.source, f"/react/{target}/curve": mapping.curve,
                           f"/react/{target}/low": low if mapping.low is None else mapping.low,
                           f"/react/{target}/high": high if mapping.high is None else mapping.high})
        trigger = v.react.get(TRIGGER, ReactMapping())
        values.update({f"/react/{TRIGGER}/source": trigger.source,
                       f"/react/{TRIGGER}/threshold": trigger.threshold})
        for name, layer in scene.sound.layers.items():
            base = f"/audio/layer/{name}"
            values.update({f"{base}/gain": layer.gain, f"{base}/mute": layer.mute, f"{base}/density": layer.density})
        return values

    def _change_scene(self, scene: Scene, source: str) -> None:
        fresh = self._scene_values(scene)
        with self._lock:
            old = self._values
            self._values = {k: v for k, v in old.items() if k in LASTING or k == "/sampler/seed"}
            self._values.update(fresh)
            self._controls = controls_for(tuple(scene.sound.layers))
        self.scene = scene
        self.stats["scene_changes"] += 1
        log.info("scene %s (%s)", scene.name, source or "?")
        # /scene/name first, so a listener that follows scenes (the audio engine) sees the new scene before
        # its values; then every value that changed.
        self._notify("/scene/name", scene.name, source)
        for key, value in fresh.items():
            if key != "/scene/name" and old.get(key) != value:
                self._notify(key, value, source)

    def _reload_changed_scenes(self) -> None:
        for path, scene in self._watch.poll():  # read on the watch's thread, never this one
            if scene is None:
                if path.stem == self.scene.name:
                    log.warning("%s was removed; scene %s keeps playing", path, self.scene.name)
                continue
            if isinstance(scene, SettingsError):
                self.stats["reload_errors"] += 1
                keep = f"; scene {self.scene.name} keeps playing" if path.stem == self.scene.name else ""
                self._reload_log(path).warning("scene file not loaded%s:\n  %s", keep, "\n  ".join(scene.problems))
                continue
            if scene.name == self.scene.name:
                self._change_scene(scene, "reload")
            else:
                log.info("scene %s changed on disk (valid)", scene.name)

    def _reload_log(self, path: Path) -> RateLimitedLog:
        if path not in self._reload_errors and len(self._reload_errors) >= MAX_WATCHED_LOGS:
            path = Path("*")  # a folder of thousands of broken files shares one
        return self._reload_errors.setdefault(path, RateLimitedLog(log, interval=10.0))

    def _follow_schedule(self) -> None:
        due = self.schedule.due(self.wall_clock())
        if due == self._scheduled:
            return
        self._scheduled = due
        if due is not None and due != self.scene.name:
            try:
                self.load_scene(due, "schedule")
            except (UserError, SettingsError) as e:
                log.error("scheduled scene %s not loaded: %s; %s keeps playing", due, e, self.scene.name)
