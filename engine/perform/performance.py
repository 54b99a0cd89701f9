"""The show as frames: Performance brings postcards in as the Show asks, draws them and hands frames on.

Live, `run_live` paces frames on the monotonic clock, the sampler paints in a worker process, the mix
plays, controllers listen and a window shows the picture. Offline (`postcards render`, tests), the caller
passes exact times (i / fps) and each postcard is painted inline when the show asks for it.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from pathlib import Path
from typing import Any

from engine.errors import UserError
from engine.perform.live import HEARTBEAT_SECONDS, process_health
from engine.settings.config import Config

log = logging.getLogger(__name__)

FRAME_TIMES = 4096   # frame durations kept for the status line and the benchmark


class Performance:
    """The show as frames: start(), frame(now) -> the drawn Surface, stop().

    Live, `run_live` paces frames on the monotonic clock and the sampler paints in a worker process.
    Offline (`offline=True`, for `postcards render` and tests) the caller passes exact times (i / fps), no
    window opens, nothing listens, and each postcard is painted inline when the show asks for it, so the
    same seed gives the same frames.
    """

    def __init__(self, config: Config, scene: str | None = None, *, scenes_dir: Path | None = None,
                 offline: bool = False, size: tuple[int, int] | None = None, seed: int | None = None,
                 audio: bool | None = None, controllers: bool | None = None, record_audio: str | None = None):
        from engine.picture.compositor import Renderer
        from engine.picture.overlay import StatusOverlay
        from engine.show.state import Show

        self.config = config
        self.offline = offline
        self.show = Show(config, scenes_dir, scene, use_schedule=not offline)
        if seed is not None:
            self.show.report("/sampler/seed", seed)
        self.size = tuple(size or (config.recording.size if offline else config.display.size))
        self.renderer = Renderer()
        self.overlay = StatusOverlay()
        self.want_audio = config.audio.enabled and not offline if audio is None else audio
        self.want_controllers = not offline if controllers is None else controllers
        self.sampler = None
        self.audio = None
        self.recording = None
        self.record_audio = record_audio  # WAV of the mix for the whole show (live)
        self.controllers = None      # engine.control.Controllers while live
        self.target = None           # offline: the Surface frames are drawn on
        self.window = None           # live: engine.picture.window.Window
        self.frame_times: deque[float] = deque(maxlen=FRAME_TIMES)
        self.frames = 0
        self.now = 0.0               # the show time of the latest frame
        self._recipe_problem: str | None = None
        self._last_frame_at: float | None = None
        self._heartbeat_at = float("-inf")
        self._fps = 0.0

    # ---- lifetime -----------------------------------------------------------------------------------------

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()  # no worker process or half-open window left behind
            raise

    def _start(self) -> None:
        import pygame

        from engine.postcards.worker import InlineSampler, SamplerClient

        if self.config.display.headless or self.offline:
            os.environ["SDL_VIDEODRIVER"] = "dummy"
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")  # the sound goes through sounddevice, not SDL
        pygame.display.init()
        pygame.font.init()
        if self.offline:
            self.target = pygame.Surface(self.size, 0, 32)
        else:
            from engine.picture.window import Window

            self.window = Window(self.config.display, self.size)
            self.window.open(self.config.display.fullscreen)
        self.show.add_listener(self._on_change)
        if self.offline:
            self.sampler = InlineSampler(self.config, self.show.take_seed)
        else:
            self.sampler = SamplerClient(self.config, self.show.take_seed, side=self._largest_model_side())
        self._follow_recipe()
        if self.want_controllers:
            self._start_controllers()
        if not self.offline:
            import engine.record.live  # noqa: F401 (PyAV: a heavy import, done before the sound starts)
        # The sound starts last: an import holds the interpreter lock for a long while, and the audio
        # callback needs it every 10 ms.
        if self.want_audio:
            self._start_audio()
        if not self.offline:
            self.attach_recording(self.record_audio)

    def stop(self) -> None:
        import pygame

        if self.controllers is not None:
            self.controllers.stop()
            self.controllers = None
        if self.recording is not None:
            self.recording.close()
            self.recording = None
        if self.audio is not None:
            self.audio.stop()
            self.audio = None
        if self.sampler is not None:
            self.sampler.close()
            self.sampler = None
        if self.window is not None:  # textures, SDL's renderer, then the window, before the video system
            self.renderer = type(self.renderer)()
            self.window.close()
            self.window = None
        pygame.display.quit()

    def attach_recording(self, audio_path: str | None = None) -> None:
        """Let /record/start, /record/stop (and key r) record the show; `audio_path`: the mix alone to a WAV."""
        from engine.record.live import LiveRecording

        rate = self.audio.samplerate if self.audio is not None else self.config.audio.samplerate
        self.recording = LiveRecording(self.config, rate, clock=lambda: self.now,
                                       report=lambda address, value: self.show.report(address, value, "recorder"),
                                       audio_path=audio_path)
        self.show.add_listener(self.recording.on_change)
        if self.audio is not None:
            self.audio.add_tap(self.recording.audio)

    def record(self, path: Path) -> None:
        """Record the show from now to `path` (MP4 with the mixed sound)."""
        if self.recording is None:
            self.attach_recording()
        if not self.recording.start(path):
            raise UserError(f"{path}: cannot record there (see the log above)")

    # ---- one frame ----------------------------------------------------------------------------------------

    def frame(self, now: float):
        """Apply what controllers sent, bring in postcards as the show asks, draw; return the Surface drawn
        (None with `[display] renderer = "sdl2"`: that frame lives on the graphics card until present())."""
        import pygame

        from engine.control.keys import submit_keys
        from engine.picture.compositor import Look

        began = time.perf_counter()
        self.now = now
        if not self.offline:
            submit_keys(self.show)
        self.show.update(now)
        self.sampler.poll(now)
        show, visual = self.show, self.show.scene.visual
        if show.next_wanted and not self.renderer.busy:
            postcard = self.sampler.take()
            if postcard is not None:
                self.renderer.begin(postcard, now, show.get("/visual/crossfade"))
                show.postcard_shown(now)
        self.renderer.drift_span = show.get("/visual/hold") + show.get("/visual/crossfade")
        target = self.target if self.offline else self.window.target()
        look = Look(frame=visual.frame, easing=visual.easing, drift=show.get("/visual/drift"),
                    black=show.get("/visual/black"), reveal=show.get("/visual/reveal"))
        self.renderer.draw(target, now, look)
        if show.get("/display/overlay"):
            self.overlay.draw(target, now, self.status_lines)
        if not self.renderer.busy and self.sampler.ready:
            self.renderer.prepare(self.sampler.ready[0], target, look)
        if self.recording is not None:
            if self.canvas is None:
                self.recording.frame(target, now)
            elif self.recording.recorder is not None:  # read back from the graphics card only while recording
                self.recording.frame(self.canvas.to_surface(), now)
        if not self.offline and now - self._heartbeat_at >= HEARTBEAT_SECONDS:
            self._heartbeat_at = now
            log.info("alive: %s; %s", "; ".join(" ".join(line.split()) for line in self.status_lines()),
                     process_health())
        if self._last_frame_at is not None and now > self._last_frame_at:
            self._fps = 0.9 * self._fps + 0.1 / (now - self._last_frame_at)
        self._last_frame_at = now
        self.frames += 1
        self.frame_times.append(time.perf_counter() - began)
        return target if self.canvas is None else None

    @property
    def canvas(self):
        """Live with `[display] renderer = "sdl2"`: the TextureCanvas frames are drawn on (else None)."""
        return self.window.canvas if self.window is not None else None

    def present(self) -> None:
        """Show the frame just drawn (live)."""
        self.window.present()

    def run_live(self, duration: float | None = None) -> None:
        """Frames on the monotonic clock until esc (or /show/quit), or for `duration` seconds."""
        import pygame

        clock = pygame.time.Clock()
        start = time.monotonic()
        while not self.show.quit_requested:
            now = time.monotonic()
            if duration is not None and now - start >= duration:
                break
            self.frame(now)
            self.present()
            clock.tick(self.config.display.fps)  # vsync paces too, where the driver gives it

    def status_lines(self) -> list[str]:
        sampler = self.sampler
        made = sampler.stats["made"] if sampler else 0
        ready = len(sampler.ready) if sampler else 0
        lines = [f"{self._fps:5.1f} fps   scene {self.show.scene.name}   postcards made {made}",
                 f"queue {ready} ready, {sampler.pending - ready} painting   {sampler.last_seconds:.1f} s each"
                 if sampler else "no sampler"]
        supervisor = getattr(sampler, "supervisor", None)
        if supervisor is not None and supervisor.restarts:
            lines.append(f"sampler restarts {supervisor.restarts}")
        if self._recipe_problem:
            lines.append(self._recipe_problem[:100])
        server = self.controllers.osc if self.controllers is not None else None
        osc = f"OSC {server.address[0]}:{server.address[1]}" if server is not None else "OSC off"
        sound = "sound off"
        if self.audio is not None:
            stats = self.audio.stats
            sound = f"underruns {stats['underruns']}   callback p99 {stats['callback_ms_p99']:.2f} ms"
        lines.append(f"{osc}   {sound}")
        return lines

    # ---- following the show ---------------------------------------------------------------------------------

    def _on_change(self, address: str, value: Any, source: str) -> None:
        if address == "/scene/name":
            if self.audio is not None:
                self.audio.set_scene(self.show.scene)
            self._follow_recipe()
        elif address in ("/sampler/steps", "/sampler/scheduler"):
            self._follow_recipe()
        elif address.startswith("/audio/") and self.audio is not None:
            self.audio.apply(address, value)
        elif address == "/display/fullscreen" and not self.offline:
            self.window.open(bool(value))

    def _follow_recipe(self) -> None:
        """Tell the sampler how the show wants postcards made now (the current scene's model)."""
        from engine.postcards.store import resolve_model
        from engine.postcards.maker import Recipe

        scene = self.show.scene
        try:
            model = resolve_model(scene.visual.model, self.config.path("models"))
        except UserError as e:
            self._recipe_problem = f"scene {scene.name}: {e}"
            if self.sampler.recipe is None:
                raise UserError(f"scene {scene.name}: visual.model: {e}") from None
            log.error("%s; postcards keep coming from %s", self._recipe_problem, self.sampler.recipe.model)
            return
        self._recipe_problem = None
        self.sampler.configure(Recipe(str(model.resolve()), self.show.get("/sampler/scheduler"),
                                      self.show.get("/sampler/steps")))

    def _largest_model_side(self) -> int:
        """Slot size for the sampler: the largest picture any scene's model paints (read from configs)."""
        from engine.postcards.store import model_side, resolve_model
        from engine.postcards.worker import MIN_SIDE
        from engine.settings.scenes import load_all

        scenes, _ = load_all(self.show.scenes_dir)
        sides = [MIN_SIDE]
        for scene in list(scenes.values()) + [self.show.scene]:
            try:
                sides.append(model_side(resolve_model(scene.visual.model, self.config.path("models"))) or 0)
            except UserError:
                continue
        return max(sides)

    def _start_audio(self) -> None:
        from engine.mix.engine import AudioEngine

        self.audio = AudioEngine(self.config, self.show.scene)
        self.audio.start()
        # The performer's lasting values (master, mute) reach the new engine like any later change.
        for address, value in self.show.values().items():
            if address in ("/audio/master", "/audio/mute"):
                self.audio.apply(address, value)

    def _start_controllers(self) -> None:
        from engine.control import start_controllers

        self.controllers = start_controllers(self.config, self.show)
