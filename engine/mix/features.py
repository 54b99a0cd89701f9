"""Features of the mix for the picture to react to: level, onsets, low/mid/high band energy, each 0..1.

Fed the mixed sound block by block from the tap (live: the taps thread, never the audio callback; offline:
the render loop, after each frame's sound), it analyses fixed hops of HOP frames whatever size the blocks
come in, so the same sound gives the same values live and offline. Each hop:

- level: the hop's RMS in dB, -60 dB -> 0 and 0 dB -> 1;
- low / mid / high: the energy under LOW_HZ, between LOW_HZ and HIGH_HZ, above HIGH_HZ, from a Hann-windowed
  FFT of the last 2 * HOP frames, in dB on the same scale;
- onset: spectral flux (how much the log spectrum rose since the hop before) above an adaptive threshold
  (ONSET_RATIO times the recent flux's median, and ONSET_SPREAD median deviations above it: earlier
  onsets do not raise it): 1 on an onset, then it decays;

and every value glides towards its new reading with an attack (rising) and a release (falling) time.
"""

from __future__ import annotations

import math

import numpy as np

from engine.settings.scenes import FEATURES

HOP = 512                 # frames per analysis hop (10.7 ms at 48 kHz)
FLOOR_DB = -60.0          # the level that reads 0
LOW_HZ, HIGH_HZ = 250.0, 2500.0
FLUX_HISTORY = 43         # hops of flux the onset threshold looks back over (~0.5 s at 48 kHz)
ONSET_RATIO = 3.0         # an onset's flux: at least this many times the recent median ...
ONSET_SPREAD = 6.0        # ... and this many median deviations above it (steady noise has few onsets)
ONSET_GAP = 0.05          # seconds: onsets closer than this are one onset


def to_unit(power: float) -> float:
    """Mean power (1 = a full-scale sine) -> 0..1 on the -60..0 dB scale."""
    db = 10.0 * math.log10(max(power, 1e-12))
    return min(1.0, max(0.0, (db - FLOOR_DB) / -FLOOR_DB))


class Features:
    def __init__(self, samplerate: int, attack: float = 0.01, release: float = 0.1):
        hop_seconds = HOP / samplerate
        # One-pole glide per hop: the share of the way to the new reading a hop covers.
        self._up = 1.0 - math.exp(-hop_seconds / attack) if attack > 0 else 1.0
        self._down = 1.0 - math.exp(-hop_seconds / release) if release > 0 else 1.0
        self._window = np.hanning(2 * HOP).astype(np.float32)
        freqs = np.fft.rfftfreq(2 * HOP, 1.0 / samplerate)
        self._bands = (freqs < LOW_HZ, (freqs >= LOW_HZ) & (freqs < HIGH_HZ), freqs >= HIGH_HZ)
        # Window power and bin count, so a band's reading is the mean power of the sound in it.
        self._norm = 2.0 / (np.sum(self._window ** 2) * len(self._window) / 2)
        self._gap = max(1, round(ONSET_GAP / hop_seconds))
        self._frames = np.zeros(2 * HOP, np.float32)    # the last two hops, mono
        self._pending = np.zeros(HOP, np.float32)        # frames of a hop not yet complete
        self._filled = 0
        self._spectrum = np.zeros(HOP + 1)             # silence before the first hop: a start is an onset
        self._flux = np.zeros(FLUX_HISTORY)
        self._since_onset = self._gap
        self.hops = 0
        self.values = dict.fromkeys(FEATURES, 0.0)

    def feed(self, block: np.ndarray, start: int = 0) -> None:
        """Take mixed frames: (frames, 2) or (frames,) float. `start` (the tap's frame index) is unused:
        the analysis runs on the frames as they come."""
        mono = block.mean(axis=1) if block.ndim == 2 else block
        taken = 0
        while taken < len(mono):
            n = min(HOP - self._filled, len(mono) - taken)
            self._pending[self._filled:self._filled + n] = mono[taken:taken + n]
            self._filled += n
            taken += n
            if self._filled == HOP:
                self._filled = 0
                self._hop(self._pending)

    def snapshot(self) -> dict[str, float]:
        """The current values (a copy: another thread may be feeding)."""
        return dict(self.values)

    def _hop(self, hop: np.ndarray) -> None:
        frames = self._frames
        frames[:HOP] = frames[HOP:]
        frames[HOP:] = hop
        power = np.abs(np.fft.rfft(frames * self._window)) ** 2 * self._norm / 2
        reading = {"level": to_unit(float(np.mean(hop.astype(np.float64) ** 2)) * 2)}
        for name, band in zip(("low", "mid", "high"), self._bands):
            reading[name] = to_unit(float(power[band].sum()) * 2)
        reading["onset"] = 1.0 if self._onset(power) else 0.0
        for name, new in reading.items():
            old = self.values[name]
            # An onset is a moment: it jumps to 1 at once and fades with the release.
            rise = 1.0 if name == "onset" else self._up
            self.values[name] = old + (new - old) * (rise if new > old else self._down)
        self.hops += 1

    def _onset(self, power: np.ndarray) -> bool:
        spectrum = np.log1p(power * 1e4)
        previous, self._spectrum = self._spectrum, spectrum
        flux = float(np.maximum(spectrum - previous, 0.0).mean())
        history = self._flux
        seen = history[len(history) - min(self.hops, len(history)):]  # the flux of the hops so far
        threshold = 1e-3
        if len(seen):
            median = float(np.median(seen))
            spread = float(np.median(np.abs(seen - median)))
            threshold += max(ONSET_RATIO * median, median + ONSET_SPREAD * spread)
        history[:-1] = history[1:]
        history[-1] = flux
        self._since_onset += 1
        if flux > threshold and self._since_onset >= self._gap:
            self._since_onset = 0
            return True
        return False
