"""The show as frames: `frame(now)` applies what controllers sent, brings postcards in as the Show asks and
draws them on its stage.

A Performance is handed its parts: the Show, a sampler (a worker process live, inline offline), a stage to
draw on (the window live, a Surface offline) and, where there are any, the mix and a recording to feed.
engine.perform.live builds and paces the live one; engine.perform.offline the one `postcards render`
drives on a virtual clock. The same show times give the same frames either way.
"""

from __future__ import annotations

import logging
import time
from collections import deque

from engine.errors import UserError
from engine.picture.compositor import Look, Renderer
from engine.picture.overlay import StatusOverlay
from engine.picture.react import React
from engine.settings.config import Config

log = logging.getLogger(__name__)

FRAME_TIMES = 4096   # frame durations kept for the status line and the benchmark


class Performance:
    def __init__(self, config: Config, show, sampler, stage, *, audio=None, recording=None):
        """`stage`: where frames are drawn (`target()`, and `canvas` when that lives on the graphics card);
        `audio` (its `stats`) and `recording` (fed each frame) may come later, or never."""
        self.config, self.show, self.sampler, self.stage = config, show, sampler, stage
        self.audio = audio
        self.recording = recording
        self.controllers = None      # engine.control.Controllers, for the status line
        self.features = None         # engine.mix.features.Features of the mix, fed by the caller (tap, render)
        self.outputs: list = []      # NDI, the web face: fed the drawn frame while they want it (live only)
        self.react = React()
        self.renderer = Renderer()
        self.overlay = StatusOverlay()
        self.frame_times: deque[float] = deque(maxlen=FRAME_TIMES)
        self.frames = 0
        self.now = 0.0               # the show time of the latest frame
        self._recipe_problem: str | None = None
        self._last_frame_at: float | None = None
        self._fps = 0.0
        for address in ("/scene/name", "/sampler/steps", "/sampler/scheduler"):
            show.on(address, lambda address, value, source: self._follow_recipe())
        self._follow_recipe()

    def frame(self, now: float):
        """Apply what controllers sent, bring in postcards as the show asks, draw; return the Surface drawn
        (None with `[display] renderer = "sdl2"`: that frame lives on the graphics card until presented)."""
        began = time.perf_counter()
        self.now = now
        show = self.show
        if self.features is not None:
            show.measure(self.features.snapshot())
        show.update(now)
        reaction = self.react(show.get)
        if reaction.next:
            show.want_next()
        self.sampler.poll(now)
        visual = show.scene.visual
        if show.next_wanted and not self.renderer.busy:
            postcard = self.sampler.take()
            if postcard is not None:
                # The show's first postcard is there at once: a show never opens on black.
                fade = show.get("/visual/crossfade") if self.renderer.current is not None else 0.0
                self.renderer.begin(postcard, now, fade)
                show.postcard_shown(now)
        self.renderer.drift_span = show.get("/visual/hold") + show.get("/visual/crossfade")
        target = self.stage.target()
        look = Look(frame=visual.frame, easing=visual.easing, drift=show.get("/visual/drift"),
                    black=1.0 - (1.0 - show.get("/visual/black")) * reaction.brightness,
                    reveal=show.get("/visual/reveal"), drift_pace=reaction.drift, pace=reaction.progress,
                    zoom=reaction.zoom,
                    retrace=show.get("/visual/retrace"), retrace_mode=show.get("/visual/retrace_mode"))
        self.renderer.draw(target, now, look)
        if show.get("/display/overlay"):
            self.overlay.draw(target, now, self.status_lines)
        upcoming = self.sampler.peek()
        if not self.renderer.busy and upcoming is not None:
            self.renderer.prepare(upcoming, target, look)
        canvas = self.stage.canvas
        if self.recording is not None:
            if canvas is None:
                self.recording.frame(target, now)
            elif self.recording.recorder is not None:  # read back from the graphics card only while recording
                self.recording.frame(canvas.to_surface(), now)
        wanting = [output for output in self.outputs if output.wants_frames]
        if wanting:  # each copies the frame into a free slot and goes on (engine/record/handoff.py)
            drawn = target if canvas is None else canvas.to_surface()
            for output in wanting:
                output.frame(drawn, now)
        if self._last_frame_at is not None and now > self._last_frame_at:
            self._fps = 0.9 * self._fps + 0.1 / (now - self._last_frame_at)
        self._last_frame_at = now
        self.frames += 1
        self.frame_times.append(time.perf_counter() - began)
        return target if canvas is None else None

    def status_lines(self) -> list[str]:
        sampler = self.sampler
        lines = [f"{self._fps:5.1f} fps   scene {self.show.scene.name}   postcards made {sampler.stats['made']}",
                 f"queue {len(sampler.ready)} ready, {sampler.pending - len(sampler.ready)} painting   "
                 f"{sampler.last_seconds:.1f} s each"]
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
        show = self.show
        lines.append(f"tempo {show.get('/tempo/bpm'):.1f} BPM ({show.get('/tempo/source')})   "
                     f"bar {show.get('/tempo/beat') // show.get('/tempo/quantum') + 1:.0f} "
                     f"beat {show.get('/tempo/phase') + 1:.1f}   level {show.get('/audio/level'):.2f}")
        return lines

    def _follow_recipe(self) -> None:
        """Tell the sampler how the show wants postcards made now (the current scene's model)."""
        from engine.postcards.maker import Recipe
        from engine.postcards.store import resolve_model

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
                                      self.show.get("/sampler/steps"), morph=scene.visual.transition == "morph",
                                      dream=scene.visual.dream))
