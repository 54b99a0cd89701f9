"""Small streaming DSP parts the synth voices share: an event ring, stereo placement, distance.

Everything works on fixed-size chunks with kept state (scipy.signal.lfilter's `zi`, ring buffers), so a
stream rendered chunk by chunk is one continuous signal with no seams and constant memory.
"""

from __future__ import annotations

import numpy as np


def ring_slices(start: int, frames: int, size: int) -> list[tuple[slice, slice]]:
    """(ring slice, chunk slice) pairs covering `frames` frames from `start` in a ring of `size` (wraps once)."""
    start %= size
    first = min(frames, size - start)
    pairs = [(slice(start, start + first), slice(0, first))]
    if first < frames:
        pairs.append((slice(0, frames - first), slice(first, frames)))
    return pairs


class EventRing:
    """Stereo ring buffer that sounds are added into ahead of time and read out chunk by chunk.

    A voice drops a whole event (a bird call, a croak) in at its start sample; the parts that fall into
    later chunks wait here. Capacity = one chunk + the longest event, so memory never grows.
    """

    def __init__(self, capacity: int):
        self.buffer = np.zeros((capacity, 2), np.float32)
        self.position = 0  # absolute sample index of the next frame `read` returns

    def add(self, at: int, sound: np.ndarray) -> None:
        """Add a (n, 2) sound starting at absolute sample `at` (>= position; truncated to capacity)."""
        sound = sound[:max(0, len(self.buffer) - (at - self.position))]
        for ring, part in ring_slices(at, len(sound), len(self.buffer)):
            self.buffer[ring] += sound[part]

    def read(self, frames: int) -> np.ndarray:
        """The next `frames` frames (a new array); their place in the ring is cleared for what comes later."""
        out = np.empty((frames, 2), np.float32)
        for ring, part in ring_slices(self.position, frames, len(self.buffer)):
            out[part] = self.buffer[ring]
            self.buffer[ring] = 0.0
        self.position += frames
        return out


def pan(mono: np.ndarray, position: float) -> np.ndarray:
    """Equal-power placement of a mono sound: position -1 (left) .. 0 (centre) .. 1 (right)."""
    angle = (np.clip(position, -1.0, 1.0) + 1.0) * np.pi / 4
    return np.stack([mono * np.cos(angle), mono * np.sin(angle)], axis=1).astype(np.float32)


def widen(left: np.ndarray, right: np.ndarray, spread: float) -> np.ndarray:
    """Two independent noises as stereo: spread 0 = the same in both ears, 1 = fully independent."""
    correlation = 1.0 - spread
    right = correlation * left + np.sqrt(1.0 - correlation ** 2) * right
    return np.stack([left, right], axis=1)


def lfilter(b, a, x, **kwargs):
    """scipy.signal.lfilter. scipy is imported where it is used, not at the top: the settings read the
    voices' names from engine.sound.voices, and every command line reads the settings (scipy.signal: ~0.6 s)."""
    from scipy import signal

    return signal.lfilter(b, a, x, **kwargs)


def butter(*args, **kwargs):
    from scipy import signal

    return signal.butter(*args, **kwargs)


class Filter:
    """An IIR filter (b, a) over a stream of (frames, channels) chunks, its state kept between chunks."""

    def __init__(self, ba: tuple[np.ndarray, np.ndarray], channels: int = 2):
        self.b, self.a = ba
        self.state = np.zeros((max(len(self.a), len(self.b)) - 1, channels))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y, self.state = lfilter(self.b, self.a, x, axis=0, zi=self.state)
        return y.astype(np.float32)


def band(low: float, high: float, samplerate: int) -> tuple[np.ndarray, np.ndarray]:
    """A gentle (6 dB/octave) band-pass, edges clipped into the band the sample rate can carry."""
    nyquist = samplerate / 2
    high = min(high, 0.45 * samplerate)
    low = min(max(low, 10.0), 0.8 * high)
    return butter(1, [low / nyquist, high / nyquist], btype="bandpass")


def lowpass(cutoff: float, samplerate: int, order: int = 2) -> tuple[np.ndarray, np.ndarray]:
    return butter(order, min(cutoff, 0.45 * samplerate) / (samplerate / 2))


class Reverb:
    """An eight-line feedback delay network: a cheap, dense tail for far-away sounds.

    Every delay is at least one chunk long, so a whole chunk of feedback is known before it is needed and
    the network runs vectorised, a chunk at a time, instead of sample by sample. (No damping filter in the
    loop: what goes in is already darkened by distance, and a filter per line would cost more than the rest.)
    """

    DELAYS_S = (0.0857, 0.0931, 0.1017, 0.1113, 0.1197, 0.1289, 0.1373, 0.1451)  # no common factors

    def __init__(self, samplerate: int, chunk: int, decay_s: float):
        self.delays = [max(chunk, round(d * samplerate)) for d in self.DELAYS_S]
        self.lines = [np.zeros(d, np.float32) for d in self.delays]
        self.head = 0  # samples written so far; each line's position is head modulo its length
        self.mix = (_hadamard(len(self.delays)) / np.sqrt(len(self.delays))).astype(np.float32)
        # Gain per pass so that every line loses 60 dB in decay_s.
        self.gains = np.array([10 ** (-3 * d / (decay_s * samplerate)) for d in self.delays], np.float32)[:, None]
        # Left hears the even lines, right the odd ones: two decorrelated tails.
        self.taps = np.zeros((2, len(self.delays)), np.float32)
        self.taps[0, 0::2] = self.taps[1, 1::2] = 0.35

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(frames, 2) in, (frames, 2) wet signal out; frames must not exceed the shortest delay."""
        frames = len(x)
        delayed = np.empty((len(self.lines), frames), np.float32)
        for k, line in enumerate(self.lines):
            for ring, part in ring_slices(self.head, frames, len(line)):
                delayed[k, part] = line[ring]
        feedback = self.mix @ (self.gains * delayed) + 0.5 * (x[:, 0] + x[:, 1])
        for line, back in zip(self.lines, feedback):
            for ring, part in ring_slices(self.head, frames, len(line)):
                line[ring] = back[part]
        self.head += frames
        return (self.taps @ delayed).T


class Distance:
    """Far away = darker (low-pass), quieter and more reverberant. distance 0 = close and dry, 1 = far.

    The low-pass is linear and time-invariant, so event voices apply it to each event as it is made
    (`darken`, cheap: events are sparse); `space` then sets level and reverb on the stream, chunk by chunk.
    """

    def __init__(self, distance: float, samplerate: int, chunk: int):
        self.tone = lowpass(16000.0 * (2200.0 / 16000.0) ** distance, samplerate)
        self.tail = round(0.005 * samplerate)  # the low-pass rings on this long after a sound ends
        level = 10 ** (-10.0 * distance / 20)  # -10 dB at the far end
        self.dry = np.float32(level * (1.0 - 0.6 * distance))
        self.wet = np.float32(level * 0.8 * distance)
        self.reverb = Reverb(samplerate, chunk, decay_s=0.8 + 1.6 * distance) if distance > 0 else None

    def darken(self, sound: np.ndarray) -> np.ndarray:
        """A mono event through the distance low-pass, its ringing tail included."""
        return lfilter(*self.tone, np.concatenate([sound, np.zeros(self.tail, sound.dtype)])).astype(np.float32)

    def space(self, x: np.ndarray) -> np.ndarray:
        if self.reverb is None:
            return x
        return self.dry * x + self.wet * self.reverb(x)


def _hadamard(n: int) -> np.ndarray:
    from scipy import linalg

    return linalg.hadamard(n)
