"""The live show: a window, the sampler's worker process, controllers, the mix through the sound card,
recordings on demand; frames paced on the monotonic clock. Keys are read each frame and a heartbeat line
with the process's health (Linux /proc) goes to the log every minute.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from engine.errors import UserError
from engine.perform.performance import Performance
from engine.settings.config import Config
from engine.show.state import Show

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 60.0  # a status line in the log this often: an installation checked from afar


class Live:
    """start(), then frame(now) + present() (or run(duration)), then stop()."""

    def __init__(self, config: Config, scene: str | None = None, *, scenes_dir: Path | None = None,
                 audio: bool | None = None, controllers: bool = True, record_audio: str | None = None):
        self.config = config
        self.show = Show(config, scenes_dir, scene)
        self.want_audio = config.audio.enabled if audio is None else audio
        self.want_controllers = controllers
        self.record_audio = record_audio  # WAV of the mix for the whole show
        self.window = None           # engine.picture.window.Window
        self.sampler = None          # engine.postcards.worker.SamplerClient
        self.performance: Performance | None = None
        self.controllers = None      # engine.control.Controllers
        self.audio = None            # engine.mix.engine.AudioEngine
        self.recording = None        # engine.record.live.LiveRecording
        self.ndi = None              # engine.record.ndi.NdiOutput
        self._heartbeat_at = float("-inf")
        self._starting: Starting | None = None  # the slow parts, until they are attached

    # ---- lifetime -----------------------------------------------------------------------------------------

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()  # no worker process or half-open window left behind
            raise

    def _start(self) -> None:
        import pygame

        from engine.picture.window import Window
        from engine.postcards.worker import SamplerClient

        if self.config.display.headless:
            os.environ["SDL_VIDEODRIVER"] = "dummy"
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")  # the sound goes through sounddevice, not SDL
        # Libraries whose loading holds the interpreter for long stretches (PyAV's, PortAudio's) load before
        # the window opens: loaded on the start-up thread, they would hold the first frames back.
        import engine.mix.engine  # noqa: F401
        import engine.record.live  # noqa: F401
        if self.want_audio:
            from engine.mix.stream import find_output

            find_output(self.config.audio.device)  # a device name that matches nothing: say so now (UserError)
        if self.want_controllers:  # first: what a controller sends from now on is applied in the first frame
            from engine.control import start_controllers

            self.controllers = start_controllers(self.config, self.show)
        pygame.display.init()
        pygame.font.init()
        self.window = Window(self.config.display, self.config.display.size)
        self.window.open(self.config.display.fullscreen)
        self.show.on("/display/fullscreen", lambda address, value, source: self.window.open(value))
        self.sampler = SamplerClient(self.config, self.show.take_seed, side=self._largest_model_side(),
                                     cache_root=self.config.path("state"))
        self.performance = Performance(self.config, self.show, self.sampler, self.window)
        self.performance.controllers = self.controllers
        if self.controllers is not None and self.controllers.web is not None:
            self.performance.outputs.append(self.controllers.web)
        if self.config.ndi.enabled:
            from engine.record.ndi import NdiOutput

            self.ndi = NdiOutput(self.config.ndi.name, self.config.display.fps, self.config.audio.samplerate)
            self.ndi.start()
            self.performance.outputs.append(self.ndi)
        # A picture now, from the postcards this model painted last time (engine/postcards/cache.py), while
        # the sampler's worker loads torch; the mix's processes start behind it.
        self.frame(time.monotonic())
        self.present()
        self._starting = Starting(self.config, self.show.scene, self.want_audio)
        if self.record_audio:
            self.attach_recording(self.record_audio)

    def stop(self) -> None:
        import pygame

        if self._starting is not None:
            self._starting.join()
            self._attach_started()
        if self.controllers is not None:
            self.controllers.stop()
            self.controllers = None
        if self.ndi is not None:
            self.ndi.stop()
            self.ndi = None
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
            if self.performance is not None:
                self.performance.renderer = type(self.performance.renderer)()
            self.window.close()
            self.window = None
        pygame.display.quit()

    def _attach_started(self) -> None:
        """Take the parts the start-up thread has made into the show (on this, the frame loop's, thread)."""
        starting, self._starting = self._starting, None
        if self.recording is None:
            self.attach_recording()
        if starting.audio is not None:
            self._attach_audio(starting.audio)

    def attach_recording(self, audio_path: str | None = None) -> None:
        """Let /record/start, /record/stop (and key r) record the show; `audio_path`: the mix alone to a WAV."""
        from engine.record.live import LiveRecording

        rate = self.audio.samplerate if self.audio is not None else self.config.audio.samplerate
        self.recording = LiveRecording(self.config, rate, clock=lambda: self.performance.now,
                                       report=lambda address, value: self.show.report(address, value, "recorder"),
                                       audio_path=audio_path)
        self.recording.follow(self.show)
        self.performance.recording = self.recording
        if self.audio is not None:
            self.audio.add_tap(self.recording.audio)

    def record(self, path: Path) -> None:
        """Record the show from now to `path` (MP4 with the mixed sound)."""
        if self.recording is None:
            self.attach_recording()
        if not self.recording.start(path):
            raise UserError(f"{path}: cannot record there (see the log above)")

    # ---- frames -------------------------------------------------------------------------------------------

    def frame(self, now: float):
        """Keys, then the performance's frame (see Performance.frame); a heartbeat line now and then."""
        from engine.control.keys import submit_keys

        submit_keys(self.show)
        if self._starting is not None and self._starting.done():
            self._attach_started()
        drawn = self.performance.frame(now)
        if now - self._heartbeat_at >= HEARTBEAT_SECONDS:
            self._heartbeat_at = now
            log.info("alive: %s; %s", "; ".join(" ".join(line.split()) for line in self.performance.status_lines()),
                     process_health())
        return drawn

    def present(self) -> None:
        """Show the frame just drawn."""
        self.window.present()

    def run(self, duration: float | None = None) -> None:
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

    # ---- internals ----------------------------------------------------------------------------------------

    def _attach_audio(self, audio) -> None:
        from engine.mix.board import follow
        from engine.mix.features import Features

        self.audio = audio
        if audio.scene is not self.show.scene:  # the scene changed while the mix started
            audio.set_scene(self.show.scene)
        # The performer's lasting values (master, mute) reach the new engine, then every later change.
        self.audio.board.set_master(self.show.get("/audio/master"))
        self.audio.board.set_mute(self.show.get("/audio/mute"))
        follow(self.show, self.audio)
        self.performance.audio = self.audio
        if self.recording is not None:
            self.audio.add_tap(self.recording.audio)
        # The picture reacts to the mix: its features are computed on the taps thread, off the callback.
        self.performance.features = Features(self.audio.samplerate, self.config.react.attack,
                                             self.config.react.release)
        self.audio.add_tap(self.performance.features.feed)
        for output in self.performance.outputs:  # NDI, the web face's WebRTC: the mix as the recorder gets it
            output.samplerate = self.audio.samplerate
            self.audio.add_tap(output.audio)

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


class Starting(threading.Thread):
    """The slow part of a start, made on a thread of its own while frames go on: the mix's processes. The
    frame loop attaches the mix once `done()`; a mix that cannot start is logged, and the show goes on
    without sound."""

    def __init__(self, config: Config, scene, want_audio: bool):
        super().__init__(name="start-up", daemon=True)
        self.config, self.scene, self.want_audio = config, scene, want_audio
        self.audio = None
        self.start()

    def run(self) -> None:
        if not self.want_audio:
            return
        from engine.mix.engine import AudioEngine

        audio = AudioEngine(self.config, self.scene)
        try:
            audio.start()
        except Exception:
            log.exception("the sound could not start; the show goes on without it")
            audio.stop()
            return
        self.audio = audio

    def done(self) -> bool:
        return not self.is_alive()
