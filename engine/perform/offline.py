"""The offline render loop: a Performance driven frame by frame on a virtual clock, the mix rendered in
step, both handed to the recorder with their show times.

Frame i is drawn at exactly i / fps. After it, the sound for [i / fps, (i + 1) / fps) is rendered: the
frames up to round((i + 1) * samplerate / fps), so the remainder carries from frame to frame and the sound
stays sample-accurate (48000 / 30 is 1600 exactly; 44100 / 24 alternates 1837 and 1838). A Command the show
applies at frame i (a cue, a scene change) reaches the picture at frame i and the sound at that frame's
first sample, and frame i + 1 reacts to the features of that sound (the sound up to its own time). The
recorder waits for its encoder instead of dropping frames: nothing here runs against a clock.
"""

from __future__ import annotations

import os
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from engine.perform.performance import Performance
from engine.record.recorder import Recorder, RecordingStats
from engine.record.wav import WavRecorder
from engine.settings.config import Config
from engine.show.state import Show


@dataclass(frozen=True)
class RenderStats:
    recording: RecordingStats
    fps: int
    wall_seconds: float        # the whole render, from the first frame to the closed file
    draw_seconds: float        # in the Performance's frames (postcards painted inline included)
    sound_seconds: float       # rendering the mix
    postcards: int             # postcards painted

    @property
    def speed(self) -> float:
        """Show seconds rendered per wall-clock second (above 1: faster than real time)."""
        return self.recording.seconds / self.wall_seconds if self.wall_seconds else 0.0


class Offscreen:
    """The stage of an offline performance: a plain Surface, no window."""

    canvas = None

    def __init__(self, size: tuple[int, int]):
        import pygame

        self.surface = pygame.Surface(size, 0, 32)

    def target(self):
        return self.surface


@contextmanager
def offline(config: Config, scene: str | None = None, *, size: tuple[int, int], seed: int,
            scenes_dir: Path | None = None):
    """A Performance that draws on a Surface and paints each postcard inline when the show asks for it:
    the caller passes exact times (i / fps), nothing listens, and the same seed gives the same frames."""
    import pygame

    from engine.postcards.inline import InlineSampler

    os.environ["SDL_VIDEODRIVER"] = "dummy"
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    # A time-of-day schedule would make the render depend on when it runs: offline, only cues change scenes.
    show = Show(config, scenes_dir, scene, use_schedule=False)
    show.report("/sampler/seed", seed)
    pygame.display.init()
    pygame.font.init()
    try:
        yield Performance(config, show, InlineSampler(config, show.take_seed), Offscreen(size))
    finally:
        pygame.display.quit()


def render_show(config: Config, *, scene: str | None, duration: float, out: Path, size: tuple[int, int],
                fps: int, seed: int, cues: Sequence = (), audio_path: str | Path | None = None,
                progress: bool = True, scenes_dir: Path | None = None) -> RenderStats:
    """Render `duration` seconds of `scene` to `out` (MP4), and the sound alone to `audio_path` (WAV)."""
    import pygame
    import torch
    from tqdm import tqdm

    from engine.mix.board import follow
    from engine.mix.features import Features
    from engine.mix.offline import OfflineAudio
    from engine.postcards.maker import torch_threads

    # The inline sampler shares this process with the encoder: leave it a core, as the live worker does
    # (torch's default of every core made a sampler step 20x slower here while x264 ran).
    torch.set_num_threads(torch_threads(config.sampler.threads))
    rate = config.audio.samplerate
    pending = sorted(cues, key=lambda cue: cue.at)
    frames = round(duration * fps)
    began = time.perf_counter()
    with ExitStack() as finish:  # closes what was opened, last first, however the render ends
        # A scene or model that cannot load fails here, before any file is touched.
        performance = finish.enter_context(offline(config, scene, size=size, seed=seed, scenes_dir=scenes_dir))
        show = performance.show
        sound = OfflineAudio(config, show.scene, rate, seed)
        follow(show, sound)
        performance.features = Features(rate, config.react.attack, config.react.release)
        recorder = Recorder(out, size, fps, rate, config.recording, start=0.0, wait=True)
        finish.callback(recorder.stop)
        wav = WavRecorder(audio_path, rate, start=0.0) if audio_path else None
        if wav is not None:
            finish.callback(wav.stop)
        written, draw, mix = 0, 0.0, 0.0
        for i in tqdm(range(frames), unit="frame", disable=not progress, desc=out.name):
            now = i / fps
            while pending and pending[0].at <= now + 1e-9:
                show.submit(pending.pop(0).command)
            mark = time.perf_counter()
            surface = performance.frame(now)
            draw += time.perf_counter() - mark
            recorder.add_frame(pygame.image.tobytes(surface, "RGB"), now, surface.get_size())
            mark = time.perf_counter()
            block = sound.render(round((i + 1) * rate / fps) - written)
            performance.features.feed(block)  # frame i + 1 reacts to the sound up to its own time
            mix += time.perf_counter() - mark
            recorder.add_audio(block, written / rate)
            if wav is not None:
                wav.add_audio(block, written / rate)
            written += len(block)
            if not recorder.active:
                break  # the file failed (the message is logged): no point drawing on
        postcards = performance.sampler.stats["made"]
    return RenderStats(recorder.stats(), fps, time.perf_counter() - began, draw, mix, postcards)

