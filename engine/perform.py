"""Run the live show: postcards painted by the scene's model crossfade in a window while the jungle plays.

Keys: space next postcard, s next scene, f fullscreen, m mute, o status, r record, esc quit. OSC, OSCQuery
and MIDI start as config.toml says. Scene files are reloaded when they change; a schedule in
config.toml ([show.schedule]) changes scenes by time of day.

Examples:
  postcards perform --scene night
  postcards perform --fullscreen --display 1
  postcards perform --headless --duration 60       (no window: servers, tests)
  postcards perform --demo                         (what `make demo` runs)
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import time
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.config import Config
from engine.controls import Command
from engine.errors import UserError

log = logging.getLogger(__name__)

DEMO_SECONDS = 30.0
HEARTBEAT_SECONDS = 60.0  # a status line in the log this often: an installation checked from afar
FRAME_TIMES = 4096   # frame durations kept for the status line and the benchmark


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


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit() and 16 <= int(width) <= 16384 and 16 <= int(height) <= 16384):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT from 16 to 16384 (e.g. 1280x720), found {text!r}")
    return int(width), int(height)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected seconds above 0, found {text!r}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scene", help="scene to start with (default: the schedule's, else show.scene)")
    parser.add_argument("--fullscreen", action="store_true", help="open fullscreen (display.fullscreen)")
    parser.add_argument("--display", type=int, metavar="N", help="monitor for fullscreen, 0 = first (display.display)")
    parser.add_argument("--size", type=parse_size, metavar="WxH", help="window size (display.size)")
    parser.add_argument("--headless", action="store_true", help="no window: SDL's dummy driver (display.headless)")
    parser.add_argument("--duration", type=_seconds, metavar="S", help="stop after S seconds")
    parser.add_argument("--demo", action="store_true",
                        help="the default scene and model; without a display: 30 s headless, recorded to demo.mp4")
    parser.add_argument("--record", metavar="FILE.mp4",
                        help="record the show to this MP4 from the start (key r, /record/start and /record/stop "
                             "start and stop recordings into paths.recordings at any time)")
    parser.add_argument("--record-audio", metavar="FILE.wav", help="write the mixed sound alone to this WAV")


def settings_from_args(config: Config, args: argparse.Namespace) -> Config:
    display = config.display
    display = replace(display, fullscreen=args.fullscreen or display.fullscreen,
                      display=display.display if args.display is None else args.display,
                      size=args.size or display.size, headless=args.headless or display.headless)
    return replace(config, display=display)


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run(args: argparse.Namespace) -> int:
    config = settings_from_args(args.settings, args)
    duration, record_to = args.duration, (Path(args.record) if args.record else None)
    if args.demo:
        config = demo_settings(config)
        if not has_display() and not config.display.headless:
            config = replace(config, display=replace(config.display, headless=True))
            duration = duration or DEMO_SECONDS
            record_to = Path(config.root) / "demo.mp4"
            print(f"No display here ($DISPLAY and $WAYLAND_DISPLAY are unset): the demo runs headless for "
                  f"{duration:g} s and records the show to {record_to}")
            from engine.audio.stream import NO_SPEAKERS, has_output

            if config.audio.enabled and not has_output():
                config = replace(config, audio=replace(config.audio, device=NO_SPEAKERS))
                print("No sound output here either: the synth plays into the recording only")
    if args.display is not None and args.display < 0:
        raise UserError(f"--display: expected a monitor number 0 or more, found {args.display}")
    performance = Performance(config, scene=args.scene, record_audio=args.record_audio)
    performance.start()
    # A service manager stops us with SIGTERM: end like esc does, so recordings are finished and workers end.
    before = signal.signal(signal.SIGTERM, lambda *_: performance.show.submit(Command("/show/quit", (), "SIGTERM")))
    try:
        if record_to is not None:
            performance.record(record_to)
        performance.run_live(duration)
    finally:
        signal.signal(signal.SIGTERM, before)
        performance.stop()
    if record_to is not None:
        print(f"Recorded the show to {record_to}")
    return 0


def demo_settings(config: Config) -> Config:
    """The demo plays the default scene on the model the project ships (models/default)."""
    from engine.postcards.store import list_models

    models = config.path("models")
    if "default" not in list_models(models):
        raise UserError(f"--demo: expected the shipped model in {models / 'default'}, found none. Train one "
                        f"(`postcards train`, see docs/) or pick a model folder in a scene's visual.model and run "
                        f"`postcards perform --scene NAME`")
    return config


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
        from engine.render import Renderer, StatusOverlay
        from engine.show import Show

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
        self.canvas = None           # live with [display] renderer = "sdl2": the TextureCanvas
        self._window = None          # ... and its window
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

        from engine.workers.sampler import InlineSampler, SamplerClient

        if self.config.display.headless or self.offline:
            os.environ["SDL_VIDEODRIVER"] = "dummy"
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")  # the sound goes through sounddevice, not SDL
        pygame.display.init()
        pygame.font.init()
        if self.offline:
            self.target = pygame.Surface(self.size, 0, 32)
        else:
            pygame.display.set_caption("Postcards from my Jungle")
            self._open_window(self.config.display.fullscreen)
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
        if self._window is not None:  # textures, SDL's renderer, then the window, before the video system
            self.renderer = type(self.renderer)()
            self.canvas = None
            self._window.destroy()
            self._window = None
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

        from engine.keys import submit_keys
        from engine.render import Look

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
        target = self.target if self.offline else (self.canvas or pygame.display.get_surface())
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

    def present(self) -> None:
        """Show the frame just drawn (live)."""
        import pygame

        if self.canvas is not None:
            self.canvas.renderer.present()
        else:
            pygame.display.flip()

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
            self._open_window(bool(value))

    def _follow_recipe(self) -> None:
        """Tell the sampler how the show wants postcards made now (the current scene's model)."""
        from engine.postcards.store import resolve_model
        from engine.workers.sampler import Recipe

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
        from engine.postcards.store import resolve_model
        from engine.scenes import load_all
        from engine.workers.sampler import MIN_SIDE, model_side

        scenes, _ = load_all(self.show.scenes_dir)
        sides = [MIN_SIDE]
        for scene in list(scenes.values()) + [self.show.scene]:
            try:
                sides.append(model_side(resolve_model(scene.visual.model, self.config.path("models"))) or 0)
            except UserError:
                continue
        return max(sides)

    def _open_window(self, fullscreen: bool) -> None:
        import pygame

        display = self.config.display
        if display.headless:
            pygame.display.set_mode(self.size)
            return
        count = pygame.display.get_num_displays()
        if display.display >= count:
            raise UserError(f"display.display / --display: expected a monitor 0..{count - 1}, found {display.display}")
        if display.renderer == "sdl2":
            self._open_sdl2_window(fullscreen)
            return
        flags = pygame.FULLSCREEN if fullscreen else 0
        size = (0, 0) if fullscreen else self.size
        try:
            pygame.display.set_mode(size, flags, display=display.display, vsync=int(display.vsync))
        except pygame.error as e:  # some drivers refuse vsync on a plain window: pace on the clock instead
            log.info("no vsync here (%s); pacing on the clock", e)
            pygame.display.set_mode(size, flags, display=display.display)
        pygame.mouse.set_visible(not fullscreen)

    def _open_sdl2_window(self, fullscreen: bool) -> None:
        """A window drawn by SDL's renderer: textures scaled and blended on the graphics card."""
        import pygame
        from pygame._sdl2 import video

        from engine.canvas import TextureCanvas

        if self._window is not None:  # key f: the same window, fullscreen or not
            if fullscreen:
                self._window.set_fullscreen(desktop=True)
            else:
                self._window.set_windowed()
        else:
            os.environ.setdefault("SDL_RENDER_SCALE_QUALITY", "linear")  # smooth upscaling of small postcards
            centred = 0x2FFF0000 | self.config.display.display  # SDL_WINDOWPOS_CENTERED_DISPLAY(n)
            self._window = video.Window("Postcards from my Jungle", size=self.size, position=(centred, centred),
                                        fullscreen_desktop=fullscreen)
            self.canvas = TextureCanvas(video.Renderer(self._window, vsync=self.config.display.vsync))
        pygame.mouse.set_visible(not fullscreen)

    def _start_audio(self) -> None:
        from engine.audio import AudioEngine

        self.audio = AudioEngine(self.config, self.show.scene)
        self.audio.start()
        # The performer's lasting values (master, mute) reach the new engine like any later change.
        for address, value in self.show.values().items():
            if address in ("/audio/master", "/audio/mute"):
                self.audio.apply(address, value)

    def _start_controllers(self) -> None:
        from engine.control import start_controllers

        self.controllers = start_controllers(self.config, self.show)
