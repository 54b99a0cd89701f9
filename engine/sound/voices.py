"""The jungle synth's voices: one seeded, endless, cheap generator per sound the artist's prompt names.

    rustle       trees, leaves and swaying branches: filtered noise that breathes, gusts, leaf crackle
    birds        soft calls: tonal whistles and warbles, a few species each with its own motif
    owls         distant hoots: low, soft, in pairs (sometimes a third)
    geckos       occasional chirps: a run of fast upward sweeps
    frogs        rhythmic croaking: bouts of evenly spaced buzzy pulses, two frogs taking turns
    butterflies  delicate wing flaps: soft rapid flutter bursts

Each voice renders fixed-size chunks internally and hands them out in whatever block sizes are asked
for, so the output is the same sample for sample whatever the block sizes, with no seams and constant
memory. Pitch, distance (low-pass, level, reverb) and spread (stereo width) are applied here; layer gain
is not (the mixer smooths it). `density` may be changed between blocks; it takes effect from the next chunk.
"""

from __future__ import annotations

import numpy as np

from typing import TYPE_CHECKING

from engine.errors import UserError
from engine.sound.dsp import Distance, EventRing, Filter, band, lfilter, lowpass, pan, widen

if TYPE_CHECKING:
    from engine.settings.scenes import LayerSettings

CHUNK_S = 4096 / 48000  # internal chunk: short enough to react, long enough to keep numpy busy


class Voice:
    """An endless stereo stream: `render(frames)` -> float32 (frames, 2)."""

    def __init__(self, layer: LayerSettings, samplerate: int, seed: int):
        self.samplerate = samplerate
        self.density = float(layer.density)
        self.pitch = float(layer.pitch)
        self.spread = float(layer.spread)
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, layer.seed]))
        self.chunk = max(32, round(samplerate * CHUNK_S))
        self.distance = Distance(layer.distance, samplerate, self.chunk)
        self._left = np.zeros((0, 2), np.float32)

    @property
    def density(self) -> float:
        return self._density

    @density.setter
    def density(self, value: float) -> None:
        # Set live from OSC/MIDI: clamp to the scene's range and keep the last good value for NaN or inf,
        # so nothing a performer sends can make the voice go wrong.
        value = float(value)
        if np.isfinite(value):
            self._density = min(max(value, 0.0), 10.0)

    def render(self, frames: int) -> np.ndarray:
        if frames <= len(self._left):  # the live case: a small block out of the current chunk
            out, self._left = self._left[:frames].copy(), self._left[frames:]
            return out
        out = np.empty((frames, 2), np.float32)
        done = min(frames, len(self._left))
        out[:done] = self._left[:done]
        self._left = self._left[done:]
        while done < frames:
            chunk = self.distance.space(self._dry(self.chunk))
            take = min(self.chunk, frames - done)
            out[done:done + take] = chunk[:take]
            self._left = chunk[take:]
            done += take
        return out

    def _dry(self, frames: int) -> np.ndarray:
        """The voice's own sound for the next chunk, darkened by distance, before distance's level and reverb."""
        raise NotImplementedError

    def seconds(self, s: float) -> int:
        return max(1, round(s * self.samplerate))

    def hz(self, f: float) -> float:
        """A frequency of the voice's range after the pitch multiplier, kept below Nyquist."""
        return min(f * self.pitch, 0.45 * self.samplerate)


class EventVoice(Voice):
    """A voice made of separate events (calls, croaks, flutters) at random times, on average one every
    mean_interval_s / density seconds. Subclasses say how long the longest event is, and make one event."""

    mean_interval_s = 1.0
    longest_s = 1.0

    def __init__(self, layer: LayerSettings, samplerate: int, seed: int):
        super().__init__(layer, samplerate, seed)
        self.ring = EventRing(self.chunk + self.seconds(self.longest_s) + self.distance.tail)
        self._next = np.inf  # scheduled on the first chunk
        self._paced = self.density  # the density the pending wait was drawn with

    def _dry(self, frames: int) -> np.ndarray:
        now = self.ring.position
        if self.density != self._paced and self._next != np.inf and self._waiting_on_density():
            # Density changed live: stretch what is left of the wait (fair for a Poisson wait, which has
            # no memory), so a performer hears the change now, not after a wait drawn at the old density.
            self._next = now + (self._next - now) * self._paced / self.density if self.density > 0 else np.inf
        if self._next == np.inf and self.density > 0:  # the start, or density came back from 0
            self._next = now + self._interval()
        self._paced = self.density
        while self._next < now + frames:
            sound, position = self._event()
            self.ring.add(int(self._next), pan(self.distance.darken(sound), position))
            self._next += self._interval()
        return self.ring.read(frames)

    def _waiting_on_density(self) -> bool:
        """Whether the pending wait was drawn from the density (a rhythm's beat is not)."""
        return True

    def _interval(self) -> float:
        """Frames until the next event; Poisson by default."""
        if self.density <= 0:
            return np.inf
        return 1.0 + self.rng.exponential(self.mean_interval_s / self.density) * self.samplerate

    def _event(self) -> tuple[np.ndarray, float]:
        """One event: (mono float32 sound, stereo position -1..1)."""
        raise NotImplementedError

    def _position(self) -> float:
        return self.rng.uniform(-self.spread, self.spread)

    def _time(self, s: float) -> np.ndarray:
        return np.arange(self.seconds(s), dtype=np.float32) / self.samplerate

    def _tone(self, freq: np.ndarray, harmonics: tuple[float, ...] = (1.0,)) -> np.ndarray:
        """A tone following the frequency contour `freq` (Hz per sample), with harmonic weights."""
        phase = np.cumsum(2 * np.pi * freq / self.samplerate, dtype=np.float64)
        nyquist = 0.45 * self.samplerate
        out = np.zeros(len(freq), np.float64)
        for k, weight in enumerate(harmonics, start=1):
            if weight:
                out += weight * np.sin(k * phase) * (k * freq < nyquist)
        return out.astype(np.float32)


def hann(n: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * (np.arange(n, dtype=np.float32) + 0.5) / n)).astype(np.float32)


def swell(n: int, attack: float) -> np.ndarray:
    """A soft envelope: rises over `attack` of its length, falls over the rest (both raised cosines)."""
    rise = max(1, int(n * attack))
    return np.concatenate([hann(2 * rise)[:rise], hann(2 * (n - rise))[n - rise:]])


def normalise(x: np.ndarray, peak: float) -> np.ndarray:
    top = float(np.max(np.abs(x))) if len(x) else 0.0
    return (x * (peak / top)).astype(np.float32) if top > 0 else x.astype(np.float32)


class Rustle(EventVoice):
    """Leaves hiss in a slowly breathing swell; branches sway in gusts; dry leaves crackle."""

    mean_interval_s = 0.8
    longest_s = 4.0

    def __init__(self, layer: LayerSettings, samplerate: int, seed: int):
        super().__init__(layer, samplerate, seed)
        low, high = self.hz(700), self.hz(7000)
        hiss_band, tone = band(low, high, samplerate), self.distance.tone
        self.hiss = Filter((np.convolve(hiss_band[0], tone[0]), np.convolve(hiss_band[1], tone[1])))
        # Uniform noise (std 1/sqrt(12)) through the band keeps this share of its standard deviation.
        self.hiss_scale = np.float32(1 / np.sqrt(2 * (min(high, 0.45 * samplerate) - low) / samplerate / 12))
        # The breathing: a slow random level, one value per control step, smoothed, interpolated per sample.
        self.step = max(1, self.chunk // 16)
        control_rate = samplerate / self.step
        cutoff = 0.25
        self.breath = Filter(lowpass(cutoff, control_rate), channels=1)
        # Standard deviation of white noise through a 2nd-order Butterworth low-pass (noise bandwidth 1.11 fc).
        self.breath_std = np.sqrt(2 * 1.1107 * cutoff / control_rate)
        self.breath_last = 0.0
        self.gust_filter = band(self.hz(150), self.hz(2500), samplerate)
        self.crackle_filter = band(self.hz(2500), self.hz(10000), samplerate)

    def _dry(self, frames: int) -> np.ndarray:
        events = super()._dry(frames)
        noise = self.rng.random((2, frames), dtype=np.float32) - 0.5
        hiss = self.hiss(widen(noise[0], noise[1], self.spread)) * self.hiss_scale
        steps = -(-frames // self.step)
        z = self.breath(self.rng.standard_normal((steps, 1)))[:, 0] / self.breath_std
        z = np.interp(np.arange(frames), np.arange(steps + 1) * self.step, np.concatenate([[self.breath_last], z]))
        self.breath_last = z[-1]
        level = (0.05 * np.sqrt(min(self.density, 4.0)) * np.exp(0.7 * z - 0.25)).astype(np.float32)[:, None]
        return hiss * level + events

    def _event(self) -> tuple[np.ndarray, float]:
        if self.rng.random() < 0.25:  # a branch sways: a long, low whoosh
            n = self.seconds(self.rng.uniform(1.5, self.longest_s))
            whoosh = lfilter(*self.gust_filter, self.rng.standard_normal(n))
            sound = whoosh * swell(n, self.rng.uniform(0.3, 0.6))
            return normalise(sound, self.rng.uniform(0.2, 0.35)), self._position()
        n = self.seconds(self.rng.uniform(0.15, 0.5))  # dry leaves: a cluster of tiny ticks
        ticks = np.zeros(n, np.float32)
        tick = np.exp(-np.arange(self.seconds(0.006)) / self.seconds(0.0015)).astype(np.float32)
        for at in self.rng.integers(0, max(1, n - len(tick)), self.rng.integers(3, 13)):
            ticks[at:at + len(tick)] += tick * self.rng.uniform(0.3, 1.0)
        sound = lfilter(*self.crackle_filter, ticks * self.rng.standard_normal(n))
        return normalise(sound, self.rng.uniform(0.1, 0.3)), self._position()


class Birds(EventVoice):
    """Soft calls: each of a few species sings its own motif of whistled notes (glides, trills)."""

    mean_interval_s = 1.2
    longest_s = 2.0

    def __init__(self, layer: LayerSettings, samplerate: int, seed: int):
        super().__init__(layer, samplerate, seed)
        r = self.rng
        self.species = [dict(base=r.uniform(2000, 4500), notes=int(r.integers(1, 6)), length=r.uniform(0.06, 0.22),
                             glide=r.uniform(-0.5, 0.5), trill=r.choice([0.0, r.uniform(0.03, 0.08)]),
                             trill_hz=r.uniform(18, 40), step=r.uniform(-0.15, 0.15))
                        for _ in range(3)]

    def _event(self) -> tuple[np.ndarray, float]:
        r = self.rng
        s = self.species[r.integers(len(self.species))]
        notes, gap = [], np.zeros(self.seconds(r.uniform(0.03, 0.09)), np.float32)
        base = s["base"] * r.uniform(0.94, 1.06)
        for i in range(max(1, s["notes"] + int(r.integers(-1, 2)))):
            t = self._time(s["length"] * r.uniform(0.8, 1.2))
            u = t / t[-1] if len(t) > 1 else t
            contour = self.hz(base * (1 + s["step"]) ** i) * 2 ** (s["glide"] * (u - 0.5))
            contour *= 1 + s["trill"] * np.sin(2 * np.pi * s["trill_hz"] * t)
            notes += [self._tone(contour, (1.0, 0.12)) * swell(len(t), 0.25) * r.uniform(0.6, 1.0), gap]
        return normalise(np.concatenate(notes), r.uniform(0.25, 0.5)), self._position()


class Owls(EventVoice):
    """Distant hoots: low, soft, slightly falling, in pairs (now and then a third, longer one)."""

    mean_interval_s = 6.0
    longest_s = 3.0

    def __init__(self, layer: LayerSettings, samplerate: int, seed: int):
        super().__init__(layer, samplerate, seed)
        self.base = self.rng.uniform(300, 380)

    def _event(self) -> tuple[np.ndarray, float]:
        r = self.rng
        hoots = 3 if r.random() < 0.25 else 2
        parts = []
        for i in range(hoots):
            t = self._time(r.uniform(0.3, 0.45) * (1.6 if i == 2 else 1.0))
            u = t / t[-1]
            contour = self.hz(self.base * r.uniform(0.97, 1.03)) * (1 + 0.06 * np.sin(np.pi * u) - 0.08 * u)
            parts.append(self._tone(contour, (1.0, 0.15, 0.04)) * swell(len(t), 0.3))
            parts.append(np.zeros(self.seconds(r.uniform(0.25, 0.45)), np.float32))
        return normalise(np.concatenate(parts), r.uniform(0.5, 0.65)), self._position()


class Geckos(EventVoice):
    """Occasional chirps: a run of short, fast upward sweeps, slowing down towards the end."""

    mean_interval_s = 5.0
    longest_s = 2.0

    def _event(self) -> tuple[np.ndarray, float]:
        r = self.rng
        low, high = self.hz(r.uniform(1200, 1800)), self.hz(r.uniform(4000, 5500))
        parts = []
        for i in range(int(r.integers(3, 8))):
            t = self._time(r.uniform(0.04, 0.06))
            u = t / t[-1]
            contour = low * (high / low) ** u  # exponential sweep upwards
            parts.append(self._tone(contour, (1.0, 0.25)) * swell(len(t), 0.15))
            parts.append(np.zeros(self.seconds(0.1 + 0.015 * i), np.float32))
        return normalise(np.concatenate(parts), r.uniform(0.45, 0.6)), self._position()


class Frogs(EventVoice):
    """Rhythmic croaking: bouts of evenly spaced buzzy croaks; two frogs take turns, each in its place.

    Density shortens the pauses between bouts (more croaking), not the beat within one.
    """

    mean_interval_s = 3.0  # pause between bouts at density 1
    longest_s = 0.3

    def __init__(self, layer: LayerSettings, samplerate: int, seed: int):
        super().__init__(layer, samplerate, seed)
        r = self.rng
        self.frogs = [dict(f0=r.uniform(110, 170), period=r.uniform(0.45, 0.7), pulse=r.uniform(25, 45),
                           formant=r.uniform(500, 900), position=r.uniform(-self.spread, self.spread))
                      for _ in range(2)]
        self.frog, self.left_in_bout, self.in_pause = self.frogs[0], 0, True

    def _interval(self) -> float:
        if self.density <= 0:
            return np.inf
        self.in_pause = self.left_in_bout == 0
        if not self.in_pause:
            self.left_in_bout -= 1
            return self.frog["period"] * self.rng.uniform(0.97, 1.03) * self.samplerate
        self.frog = self.frogs[self.rng.integers(len(self.frogs))]
        self.left_in_bout = int(self.rng.integers(6, 16))
        return 1.0 + self.rng.exponential(self.mean_interval_s / self.density) * self.samplerate

    def _waiting_on_density(self) -> bool:
        return self.in_pause

    def _event(self) -> tuple[np.ndarray, float]:
        f = self.frog
        t = self._time(self.rng.uniform(0.12, 0.2))
        f0 = self.hz(f["f0"]) * (1 - 0.1 * t / t[-1])
        formant = self.hz(f["formant"])
        weights = tuple(np.exp(-((k * f0[0] - formant) / formant) ** 2) for k in range(1, 10))
        pulses = (0.5 + 0.5 * np.sin(2 * np.pi * f["pulse"] * t)) ** 2
        sound = self._tone(f0, weights) * pulses * swell(len(t), 0.08)
        return normalise(sound, self.rng.uniform(0.5, 0.65)), f["position"]


class Butterflies(EventVoice):
    """Delicate wing flaps: soft, rapid puffs of air in short bursts that come close and leave."""

    mean_interval_s = 3.0
    longest_s = 1.2

    def __init__(self, layer: LayerSettings, samplerate: int, seed: int):
        super().__init__(layer, samplerate, seed)
        self.air = band(self.hz(250), self.hz(2500), samplerate)

    def _event(self) -> tuple[np.ndarray, float]:
        r = self.rng
        t = self._time(r.uniform(0.3, self.longest_s))
        flaps = (0.5 - 0.5 * np.cos(2 * np.pi * r.uniform(12, 22) * self.pitch ** 0.5 * t)) ** 4
        sound = lfilter(*self.air, r.standard_normal(len(t))) * flaps * hann(len(t))
        return normalise(sound, r.uniform(0.18, 0.28)), self._position()


VOICES: dict[str, type[Voice]] = {"rustle": Rustle, "birds": Birds, "owls": Owls, "geckos": Geckos,
                                   "frogs": Frogs, "butterflies": Butterflies}
SYNTH_VOICES = tuple(VOICES)  # the layer sources scenes accept besides stable-audio


def make_voice(layer: LayerSettings, samplerate: int, seed: int) -> Voice:
    """The synth voice a layer asks for (layer.source is one of SYNTH_VOICES)."""
    if layer.source not in VOICES:
        raise UserError(f"layer source: expected a synth voice ({', '.join(SYNTH_VOICES)}), "
                        f"found {layer.source!r}")
    if samplerate < 8000:
        raise UserError(f"sample rate: expected at least 8000 Hz, found {samplerate}")
    return VOICES[layer.source](layer, samplerate, seed)
