"""The jungle bed: a scene's synth layers as one stereo stream, each voice at its layer's gain.

For offline files (`postcards soundscape`) and benchmarks. The live mixer makes the voices itself
(engine.sound.voices.make_voice), one per layer, because it needs each layer on its own.
"""

from __future__ import annotations

import zlib

import numpy as np

from engine.errors import UserError
from engine.scenes import SYNTH_VOICES, LayerSettings
from engine.sound.voices import Voice, make_voice

# The default scene: all six voices the artist's prompt names, leaves and birds in front.
DEFAULT_LAYERS = {
    "leaves": LayerSettings(source="rustle", gain=0.7, density=1.0, distance=0.2, spread=0.9),
    "birds": LayerSettings(source="birds", gain=0.8, density=1.0, distance=0.35),
    "owls": LayerSettings(source="owls", gain=0.8, density=0.8, distance=0.8),
    "geckos": LayerSettings(source="geckos", gain=0.6, density=1.0, distance=0.4),
    "frogs": LayerSettings(source="frogs", gain=0.7, density=1.0, distance=0.6),
    "butterflies": LayerSettings(source="butterflies", gain=1.0, density=1.0, distance=0.1, spread=0.5),
}


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
