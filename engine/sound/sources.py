"""What a layer sounds like: a synth voice, or a Stable Audio loop with the synth standing in.

`open_source` is used by the soundscape worker (live) and by offline rendering alike, so both hear the
same thing for the same seed. A stable-audio layer plays a seamless loop made by Stable Audio when its
weights are on this machine; the loop is generated on a background thread (it takes minutes on a CPU)
while the rustle voice stands in, then the loop crossfades in. With no weights the rustle voice stays
and a log line says so. Offline rendering never waits on a model: it must be deterministic and quick,
so there the stand-in plays (and says so).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace

from typing import TYPE_CHECKING

import numpy as np

from engine.sound.synth import layer_seed
from engine.sound.voices import make_voice

if TYPE_CHECKING:
    from engine.settings.scenes import LayerSettings

log = logging.getLogger(__name__)

STAND_IN = "rustle"
LOOP_SECONDS = 20.0
SWITCH_SECONDS = 2.0


def voice_seed(seed: int, generation: int, name: str) -> int:
    """The seed of layer `name` the `generation`-th time a scene brings it in."""
    return layer_seed(seed * 1_000_003 + generation, name) % 2 ** 32


def open_source(name: str, layer: LayerSettings, samplerate: int, seed: int, allow_models: bool = True):
    """An endless source for the layer: render(frames) -> float32 (frames, 2), writable `density`."""
    if layer.source != "stable-audio":
        return make_voice(layer, samplerate, seed)
    stand_in = make_voice(replace(layer, source=STAND_IN), samplerate, seed)
    if not allow_models:
        log.info("layer %s: stable-audio is not rendered offline; the %s voice stands in", name, STAND_IN)
        return stand_in
    from engine.errors import UserError
    from engine.sound import stable_audio

    try:
        folder = stable_audio.model_folder(stable_audio.DEFAULT_MODEL)
    except UserError:
        log.warning("layer %s: no Stable Audio weights on this machine; the %s voice stands in "
                    "(docs/sound.md says how to get them)", name, STAND_IN)
        return stand_in
    return LoopWhenReady(name, layer, samplerate, seed, folder, stand_in)


class LoopWhenReady:
    """The stand-in voice until a Stable Audio loop is made on a background thread, then the loop."""

    def __init__(self, name, layer: LayerSettings, samplerate: int, seed: int, folder, stand_in):
        self.name, self.samplerate, self.stand_in = name, samplerate, stand_in
        self.loop = None
        self._switch = 0  # frames of the stand-in -> loop crossfade done
        self._thread = threading.Thread(target=self._make, args=(layer, seed, folder), daemon=True,
                                        name=f"stable-audio {name}")
        self._thread.start()

    @property
    def density(self) -> float:
        return self.stand_in.density

    @density.setter
    def density(self, value: float) -> None:
        self.stand_in.density = value

    def _make(self, layer: LayerSettings, seed: int, folder) -> None:
        from engine.sound import loops, stable_audio

        try:
            log.info("layer %s: generating a %.0f s Stable Audio loop (the %s voice plays meanwhile)",
                     self.name, LOOP_SECONDS, STAND_IN)
            pipe = stable_audio.load_stable_audio(folder)
            prompt = layer.prompt or stable_audio.ARTIST_PROMPT
            (clip,) = stable_audio.generate(pipe, prompt, seconds=LOOP_SECONDS, seed=seed)
            clip = stable_audio.resample(clip, stable_audio.model_rate(pipe), self.samplerate)
            self.loop = loops.LoopPlayer(loops.make_loop(clip, self.samplerate))
            log.info("layer %s: the Stable Audio loop is ready", self.name)
        except Exception as e:  # a broken model must not take the layer down: the stand-in keeps playing
            log.warning("layer %s: Stable Audio failed (%s); the %s voice stays", self.name, e, STAND_IN)

    def render(self, frames: int) -> np.ndarray:
        if self.loop is None:
            return self.stand_in.render(frames)
        switch = round(SWITCH_SECONDS * self.samplerate)
        if self._switch >= switch:
            return self.loop.render(frames)
        t = (self._switch + np.arange(frames)) / switch
        mix = np.clip(t, 0.0, 1.0)[:, None] * (np.pi / 2)
        self._switch += frames
        return (self.stand_in.render(frames) * np.cos(mix) + self.loop.render(frames) * np.sin(mix)).astype(np.float32)


class VoiceFeed:
    """A source rendered inline, for offline mixing: always has sound on hand."""

    def __init__(self, source):
        self.source = source

    def available(self) -> int:
        return 1 << 62

    def read(self, out: np.ndarray) -> None:
        np.copyto(out, sanitize(self.source.render(len(out))))

    def skip(self, frames: int) -> None:
        self.source.render(frames)


def sanitize(block: np.ndarray) -> np.ndarray:
    """float32 stereo with no NaN/inf and no wild peaks: one broken voice must not poison the mix."""
    block = np.nan_to_num(np.asarray(block, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(block, -4.0, 4.0, out=block)
