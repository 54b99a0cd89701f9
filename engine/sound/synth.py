"""The jungle bed: a scene's synth layers as one stereo stream, each voice at its layer's gain.

For offline files (`postcards soundscape`) and benchmarks. The live mixer makes the voices itself
(engine.sound.voices.make_voice), one per layer, because it needs each layer on its own.
"""

from __future__ import annotations

import zlib

import numpy as np

from typing import TYPE_CHECKING

from engine.errors import UserError
from engine.sound.voices import SYNTH_VOICES, Voice, make_voice

if TYPE_CHECKING:
    from engine.settings.scenes import LayerSettings

def layer_seed(seed: int, name: str) -> int:
    """Each layer its own randomness, stable for a layer name whatever other layers the scene has."""
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % 2 ** 63


class JungleBed:
    """Sum of a scene's unmuted synth layers, gains applied: `render(frames)` -> float32 (frames, 2)."""

    def __init__(self, layers: dict[str, LayerSettings], samplerate: int, seed: int):
        not_synth = [f"{name} ({layer.source})" for name, layer in layers.items() if layer.source not in SYNTH_VOICES]
        if not_synth:
            raise UserError(f"sound layers {', '.join(not_synth)}: expected synth voices "
                            f"({', '.join(SYNTH_VOICES)}); play other sources as loops")
        self.voices: dict[str, tuple[Voice, np.float32]] = {
            name: (make_voice(layer, samplerate, layer_seed(seed, name)), np.float32(layer.gain))
            for name, layer in layers.items() if not layer.mute}

    def render(self, frames: int) -> np.ndarray:
        out = np.zeros((frames, 2), np.float32)
        for voice, gain in self.voices.values():
            out += gain * voice.render(frames)
        return out
