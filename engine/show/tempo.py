"""Tempo: the show's beat clock, and what steers it: tap tempo and MIDI clock (Ableton Link lives in
engine/control/link.py, an optional extra).

The clock turns show time into beats: beat(now) = beat at the anchor + (now - anchor) * bpm / 60. A tempo
change re-anchors at the moment it happens, so the beat never jumps; a source with a phase of its own (a
Link session, a MIDI start, a tap) aligns the beat as well. `quantum` beats make a bar. Quantised changes
wait for a beat number (`next_boundary`), not a time: a tempo change while they wait still lands them on
the beat.
"""

from __future__ import annotations

import math
import threading
from collections import deque

MIN_BPM, MAX_BPM = 20.0, 300.0
EPSILON = 1e-6     # beats: a request made on a boundary (within float error) waits for the next one


class TempoClock:
    def __init__(self, bpm: float = 120.0, quantum: int = 4, now: float = 0.0):
        self.bpm = check_bpm(bpm)
        self.quantum = quantum
        self._anchor_time, self._anchor_beat = now, 0.0

    def beat(self, now: float) -> float:
        return self._anchor_beat + (now - self._anchor_time) * self.bpm / 60.0

    def phase(self, now: float) -> float:
        """Where in the bar: 0 <= phase < quantum."""
        return self.beat(now) % self.quantum

    def set_bpm(self, bpm: float, now: float) -> None:
        self._anchor_beat, self._anchor_time = self.beat(now), now
        self.bpm = check_bpm(bpm)

    def align(self, beat: float, now: float) -> None:
        """The beat at `now` is `beat` (a Link session's, a MIDI start's, a tap's)."""
        self._anchor_beat, self._anchor_time = beat, now

    def next_boundary(self, now: float, unit: str) -> float:
        """The beat number of the next beat or bar ('beat', 'bar') after `now`; 'off': the beat now."""
        beat = self.beat(now)
        if unit == "off":
            return beat
        step = 1 if unit == "beat" else self.quantum
        return (math.floor(beat / step + EPSILON) + 1) * step


def check_bpm(bpm: float) -> float:
    if not MIN_BPM <= bpm <= MAX_BPM:
        raise ValueError(f"tempo: expected {MIN_BPM:g}..{MAX_BPM:g} BPM, found {bpm}")
    return float(bpm)


class TapTempo:
    """Taps to a tempo: the mean interval of the last taps; a pause of MAX_GAP starts a new count."""

    MAX_GAP = 2.0   # seconds (30 BPM)
    KEEP = 8        # taps averaged

    def __init__(self):
        self._taps: deque[float] = deque(maxlen=self.KEEP)

    def tap(self, now: float) -> float | None:
        """The tempo after this tap, or None while there is only one tap to go by."""
        if self._taps and now - self._taps[-1] > self.MAX_GAP:
            self._taps.clear()
        self._taps.append(now)
        if len(self._taps) < 2:
            return None
        bpm = 60.0 * (len(self._taps) - 1) / (self._taps[-1] - self._taps[0])
        return min(MAX_BPM, max(MIN_BPM, bpm))


class MidiClock:
    """MIDI clock in: 24 ticks a beat, start / stop / continue, fed from the MIDI thread and read by the Show
    once a frame. The tempo is the mean tick interval over the last WINDOW ticks (two beats), which smooths
    the timing jitter of a cable or a software port; the beat counts ticks since the last start."""

    PPQN = 24
    WINDOW = 48
    MIN_TICKS = 12  # ticks before a tempo is given (half a beat)
    LOST = 1.0      # seconds without a tick: the clock has stopped

    def __init__(self):
        self._lock = threading.Lock()  # the MIDI thread writes, the frame loop reads
        self._ticks: deque[float] = deque(maxlen=self.WINDOW + 1)
        self._running = False
        self._count = 0            # ticks since the last start

    def message(self, kind: str, now: float) -> None:
        """'clock', 'start', 'stop' or 'continue' (mido's message types), received at `now`."""
        with self._lock:
            if kind == "clock":
                if self._ticks and now - self._ticks[-1] > self.LOST:  # stopped and came back: a fresh count
                    self._ticks.clear()
                self._ticks.append(now)
                if self._running:
                    self._count += 1
            elif kind == "start":
                self._running, self._count = True, 0
            elif kind == "continue":
                self._running = True
            elif kind == "stop":
                self._running = False

    def read(self, now: float) -> tuple[float, float | None] | None:
        """(bpm, beat) at `now`: the beat only while running (None when stopped); None without a clock."""
        with self._lock:
            ticks = self._ticks
            if len(ticks) <= self.MIN_TICKS or now - ticks[-1] > self.LOST:
                return None
            seconds = (ticks[-1] - ticks[0]) / (len(ticks) - 1)
            if seconds <= 0:
                return None
            bpm = min(MAX_BPM, max(MIN_BPM, 60.0 / (seconds * self.PPQN)))
            if not self._running:
                return bpm, None
            # Between ticks the beat runs on at the tempo, but never past the next tick's place.
            ahead = min(1.0, (now - ticks[-1]) / seconds)
            return bpm, (self._count + ahead) / self.PPQN


class ShowTempo:
    """The Show's tempo: its clock, steered by the strongest source that speaks (an Ableton Link session,
    then MIDI clock), else by the show's own /tempo/bpm and taps."""

    PRIORITY = ("link", "midi")

    def __init__(self, bpm: float, quantum: int):
        self.clock = TempoClock(bpm, quantum)
        self.taps = TapTempo()
        self.sources: list[tuple[str, object]] = []   # (name, source): read(now) -> (bpm, beat | None) | None
        self.leader = "show"

    def add_source(self, name: str, source) -> None:
        self.sources.append((name, source))
        self.sources.sort(key=lambda item: self.PRIORITY.index(item[0]))

    def follow(self, now: float) -> None:
        """Once a frame: take tempo and beat from the first source that has them."""
        for name, source in self.sources:
            reading = source.read(now)
            if reading is None:
                continue
            bpm, beat = reading
            if bpm != self.clock.bpm:
                self.clock.set_bpm(bpm, now)
            if beat is not None:
                self.clock.align(beat, now)
            self.leader = name
            return
        self.leader = "show"

    def set_bpm(self, bpm: float, now: float) -> None:
        """The performer's tempo; a Link session hears it too, so every peer follows."""
        self.clock.set_bpm(bpm, now)
        for _, source in self.sources:
            if hasattr(source, "set_bpm"):
                source.set_bpm(bpm)

    def tap(self, now: float) -> float | None:
        """A tap at `now`: the tempo from the taps so far (None after the first), and the beat on the tap."""
        bpm = self.taps.tap(now)
        if bpm is not None:
            self.set_bpm(bpm, now)
            self.clock.align(round(self.clock.beat(now)), now)
        return bpm

    @property
    def peers(self) -> int:
        return sum(getattr(source, "peers", 0) for _, source in self.sources)
