"""The live mix rendered inline, sample-accurately, for `postcards render` and the recorder.

Same board, same mixer, same voices as the live engine; only the voices render inline instead of in the
soundscape worker, so nothing ever runs dry and the output depends on the seed and on when (in frames)
each `set_scene` / board change comes, nothing else. Call them between `render` calls, in step with the show's
virtual clock.
"""

from __future__ import annotations

import numpy as np

from engine.settings.config import Config
from engine.settings.scenes import LayerSettings, Scene

from engine.mix.board import Board
from engine.mix.mixer import Mixer
from engine.sound.sources import VoiceFeed, open_source

SLOTS = 16
BLOCK = 512  # frames mixed at a time: the board's fades and releases happen on these boundaries


class InlineHost:
    """Voices made and rendered in this process."""

    def __init__(self, samplerate: int):
        self.samplerate = samplerate
        self.sources: dict[int, object] = {}

    def start(self, slot: int, epoch: int, name: str, layer: LayerSettings, seed: int) -> VoiceFeed:
        self.sources[slot] = open_source(name, layer, self.samplerate, seed, allow_models=False)
        return VoiceFeed(self.sources[slot])

    def stop(self, slot: int) -> None:
        self.sources.pop(slot, None)

    def density(self, slot: int, value: float) -> None:
        self.sources[slot].density = value


class OfflineAudio:
    def __init__(self, config: Config, scene: Scene, samplerate: int, seed: int):
        self.samplerate = samplerate
        self.mixer = Mixer(SLOTS, samplerate, BLOCK)
        self.board = Board(self.mixer, InlineHost(samplerate), seed, config.audio.master)
        self.board.set_scene(scene)

    def set_scene(self, scene: Scene) -> None:
        self.board.set_scene(scene)

    def render(self, frames: int) -> np.ndarray:
        """The next `frames` frames of the mix: float32 (frames, 2)."""
        out = np.empty((frames, 2), np.float32)
        for start in range(0, frames, BLOCK):
            self.mixer.process(out[start:start + BLOCK])
            self.board.tick()
        return out
