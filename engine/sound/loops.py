"""Seamless loops: any clip (a Stable Audio waveform, a field recording) played endlessly with no seam.

`make_loop` searches the end of the clip for the stretch that best matches its head (highest normalised
correlation, so the crossfade neither cancels nor bumps), and crossfades that tail into the head with an
equal-power (sine/cosine) fade. The loop then runs: ... body, tail fading into head, body ... where every
wrap is between two samples that were neighbours in the clip.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from engine.errors import UserError


def make_loop(clip: np.ndarray, samplerate: int, crossfade_s: float = 1.0, search_s: float = 3.0) -> np.ndarray:
    """A (frames, 2) float32 loop made from a (n, 2) clip; shorter than the clip by the crossfade and the
    part cut after the best loop point (at most `search_s`)."""
    clip = np.asarray(clip, np.float32)
    if clip.ndim != 2 or clip.shape[1] != 2:
        raise UserError(f"loop clip: expected stereo audio of shape (frames, 2), found shape {clip.shape}")
    if crossfade_s <= 0:
        raise UserError(f"loop crossfade: expected more than 0 seconds, found {crossfade_s}")
    fade = round(crossfade_s * samplerate)
    if len(clip) < 3 * fade:
        raise UserError(f"loop clip: expected at least {3 * crossfade_s:g} s (three crossfades), "
                        f"found {len(clip) / samplerate:.2f} s")
    end = best_end(clip, fade, min(round(search_s * samplerate), len(clip) - 3 * fade))
    # Equal power: cos^2 + sin^2 = 1, right for the uncorrelated parts of two stretches of sound.
    phase = (np.arange(fade, dtype=np.float32) + 0.5) / fade * (np.pi / 2)
    head = clip[:fade] * np.sin(phase)[:, None] + clip[end - fade:end] * np.cos(phase)[:, None]
    return np.concatenate([head, clip[fade:end - fade]]).astype(np.float32)


def best_end(clip: np.ndarray, fade: int, search: int) -> int:
    """The loop end in [n - search, n] whose last `fade` frames look most like the clip's first `fade`."""
    mono = clip.mean(axis=1).astype(np.float64)
    head = mono[:fade]
    region = mono[len(mono) - search - fade:]
    # Correlation of the head with every tail candidate, normalised by each candidate's energy.
    dots = signal.correlate(region, head, mode="valid", method="fft")
    running = np.concatenate([[0.0], np.cumsum(region ** 2)])
    energy = running[fade:] - running[:-fade]
    score = dots / np.sqrt(np.maximum(energy * np.dot(head, head), 1e-20))
    return len(mono) - search + int(np.argmax(score))


class LoopPlayer:
    """Plays a loop endlessly: the same `render(frames)` interface as a synth voice."""

    def __init__(self, loop: np.ndarray):
        self.loop = np.asarray(loop, np.float32)
        if self.loop.ndim != 2 or self.loop.shape[1] != 2 or len(self.loop) == 0:
            raise UserError(f"loop: expected stereo audio of shape (frames, 2), found shape {self.loop.shape}")
        self.position = 0
        self.density = 1.0  # a loop has no events to thin out; kept so a loop stands in for a voice

    def render(self, frames: int) -> np.ndarray:
        index = (self.position + np.arange(frames)) % len(self.loop)
        self.position = (self.position + frames) % len(self.loop)
        return self.loop[index]
