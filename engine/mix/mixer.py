"""The mixer core, shared by the live audio callback and offline rendering: one object, no twin.

Each slot carries one playing layer. Its gain is the product of three slew-limited values:
    level   layer gain x scene gain x (not muted): moves at most 1.0 per LEVEL_RAMP_S (no zipper noise)
    fade    the scene crossfade position 0..1, heard through an equal-power sine curve
    supply  1 while the slot's feed has sound on hand, sliding to 0 as it runs dry, so a starving
            layer fades out instead of clicking, and fades back in once sound returns
The gain moves linearly across each block from its value at the block's start to its value at the end,
so the step from one sample to the next is bounded by the slew rates. A master gain (also ramped) scales
the sum, and a soft-knee limiter keeps the result below 1.0 with no look-ahead.

`process(out)` is what the audio callback runs: copies, multiplies and sums into preallocated buffers
with numpy `out=` arguments; it allocates no arrays, takes no locks and logs nothing. The control side
(engine/mix/board.py) writes targets and rates; a value it changes mid-block is picked up at the next
block. Live, the two sides are two Mixers in two processes over one shared block of these numbers
(engine/processes/shared.py): the board's in the show process, the callback's in the player process, which
makes each slot's feed itself (`feed_for`) from the epoch the board writes into the slot table.
Offline, one Mixer in plain memory does both.
"""

from __future__ import annotations

import math

import numpy as np

from engine.processes.shared import SharedArrays

LEVEL_RAMP_S = 0.05      # seconds a gain takes to move by 1.0: fast to follow a fader, slow enough not to click
LIMIT_KNEE = 0.8         # the limiter leaves |x| below this alone and bends the rest towards 1.0
LEVEL, FADE, SUPPLY = 0, 1, 2
NOW, TARGET = 0, 1       # the two master values
VERSION, STARVED = 0, 1  # the two counts


def mixer_layout(slots: int) -> dict:
    """What the control side and the audio side share (engine/processes/shared.py)."""
    return {"current": ((3, slots), np.float64), "target": ((3, slots), np.float64),
            "rate": ((3, slots), np.float64),        # the most a value moves per sample
            "master": ((2,), np.float64),            # [NOW, TARGET]
            "epochs": ((slots,), np.int64),          # the slot table: the layer each slot plays, 0 = none
            "counts": ((2,), np.int64)}              # [VERSION of the slot table, times a layer STARVED]


class Mixer:
    def __init__(self, slots: int, samplerate: int, block: int, master: float = 1.0,
                 high_water: int = 0, shared: SharedArrays | None = None, feed_for=None):
        """`block`: the largest block `process` is asked for. A slot's supply fades out over its feed's
        last four blocks (the low water mark) and comes back once `high_water` frames are on hand
        (at least twice the low mark), so a feed that just refilled is not at once starved again.
        `shared`: the numbers in a block made with `mixer_layout` (the creator sets them up; an attached
        mixer finds them as they are); `feed_for(slot, epoch)`: on the audio side of a shared block, makes
        the feed of the layer the control side put in a slot."""
        self.samplerate, self.block = samplerate, block
        self.low_water = 4 * block
        self.high_water = max(high_water, 2 * self.low_water)
        shared = shared if shared is not None else SharedArrays(mixer_layout(slots), local=True)
        self.current, self.target, self.rate = shared.current, shared.target, shared.rate
        self.masters, self.epochs, self.counts = shared.master, shared.epochs, shared.counts
        self.master_rate = 1.0 / (LEVEL_RAMP_S * samplerate)
        if shared.owner:
            self.rate[LEVEL] = 1.0 / (LEVEL_RAMP_S * samplerate)
            self.rate[SUPPLY] = 1.0 / self.low_water
            self.masters[:] = master
        self.feeds: list = [None] * slots   # per slot: available() -> frames, read(out), skip(frames)
        self.active: tuple[int, ...] = ()    # slots mixed; replaced whole
        self.feed_for = feed_for
        self._version = -1                   # the slot table version the feeds follow (feed_for only)
        # Scratch, allocated once.
        self._previous = np.zeros((3, slots))
        self._step = np.zeros((3, slots))
        self._limit = np.zeros((3, slots))
        self._gain_start = np.zeros(slots)
        self._gain_end = np.zeros(slots)
        self._buffer = np.zeros((block, 2), np.float32)
        # Two columns, not a broadcast (block, 1): numpy buffers a broadcast operand, i.e. allocates.
        self._ramp = np.zeros((block, 2), np.float32)
        self._index = np.repeat(np.arange(1, block + 1, dtype=np.float32)[:, None], 2, axis=1)
        self._excess = np.zeros((block, 2), np.float32)
        self._bent = np.zeros((block, 2), np.float32)

    @property
    def starved(self) -> int:
        """Times a playing slot ran low and faded out."""
        return int(self.counts[STARVED])

    # -- control side (any thread but the callback) --------------------------------------------------------

    def set_level(self, slot: int, value: float, seconds: float | None = None) -> None:
        """Glide the slot's level to `value`: at the default slew, or over `seconds` when that is slower."""
        fastest = 1.0 / (LEVEL_RAMP_S * self.samplerate)
        if seconds:
            self.rate[LEVEL, slot] = min(fastest, max(abs(value - self.current[LEVEL, slot]), 1e-6)
                                         / (seconds * self.samplerate))
        else:
            self.rate[LEVEL, slot] = fastest
        self.target[LEVEL, slot] = value

    def fade_to(self, slot: int, position: float, seconds: float) -> None:
        """Move the slot's crossfade position to 0 (out) or 1 (in) over `seconds` (at least one ramp)."""
        distance = max(abs(position - self.current[FADE, slot]), 1e-6)
        self.rate[FADE, slot] = distance / (max(seconds, LEVEL_RAMP_S) * self.samplerate)
        self.target[FADE, slot] = position

    def open_slot(self, slot: int, epoch: int, feed, level: float, fade_seconds: float) -> None:
        """Start mixing layer number `epoch` (> 0) in `slot`, silent at first, fading in over `fade_seconds`.
        `feed`: its sound, or None where the audio side makes the feed (`feed_for`)."""
        self.current[:, slot] = 0.0
        self.target[SUPPLY, slot] = 0.0
        self.current[LEVEL, slot] = self.target[LEVEL, slot] = level
        self.feeds[slot] = feed
        self.fade_to(slot, 1.0, fade_seconds)
        self.active = tuple(sorted(set(self.active) | {slot}))
        self._publish(slot, epoch)

    def close_slot(self, slot: int) -> None:
        self.active = tuple(s for s in self.active if s != slot)
        self.feeds[slot] = None
        self.current[:, slot] = self.target[:, slot] = 0.0
        self._publish(slot, 0)

    def _publish(self, slot: int, epoch: int) -> None:
        """The slot table first, then its version: the audio side reads them the other way round."""
        self.epochs[slot] = epoch
        self.counts[VERSION] += 1

    def faded_out(self, slot: int) -> bool:
        return self.target[FADE, slot] == 0.0 and self.current[FADE, slot] <= 1e-9

    def set_master(self, value: float, glide: bool = True) -> None:
        self.masters[TARGET] = value
        if not glide:
            self.masters[NOW] = value

    @property
    def master_target(self) -> float:
        return float(self.masters[TARGET])

    # -- the audio side ----------------------------------------------------------------------------------

    def process(self, out: np.ndarray) -> None:
        """Mix the next len(out) frames into `out` (float32 (frames, 2), frames <= block)."""
        frames = len(out)
        if self.feed_for is not None and self.counts[VERSION] != self._version:
            self._follow_slot_table()
        if frames == self.block:
            buffer, ramp, index, excess, bent = self._buffer, self._ramp, self._index, self._excess, self._bent
        else:
            buffer, ramp, index = self._buffer[:frames], self._ramp[:frames], self._index[:frames]
            excess, bent = self._excess[:frames], self._bent[:frames]
        feeds, target = self.feeds, self.target
        for slot in self.active:
            feed = feeds[slot]
            if feed is None:
                continue  # closed while this block began
            ready = feed.available()
            if ready <= self.low_water:  # its last low_water frames play with the supply sliding to 0
                if target[SUPPLY, slot] == 1.0 and target[FADE, slot] > 0.0:
                    self.counts[STARVED] += 1  # it was playing and is running dry
                target[SUPPLY, slot] = 0.0
            elif ready >= self.high_water:
                target[SUPPLY, slot] = 1.0
        self._advance(frames)
        master_start = float(self.masters[NOW])
        step = self.master_rate * frames
        master_end = master_start + min(max(float(self.masters[TARGET]) - master_start, -step), step)
        self.masters[NOW] = master_end
        self._gains(self._previous, master_start, self._gain_start)
        self._gains(self.current, master_end, self._gain_end)

        out.fill(0.0)
        for slot in self.active:
            feed = feeds[slot]
            if feed is None:
                continue
            # Python floats: a numpy float64 scalar against float32 arrays makes numpy allocate a cast buffer.
            start, end = float(self._gain_start[slot]), float(self._gain_end[slot])
            if feed.available() < frames:
                continue  # dry: its supply has already faded it out
            if start == 0.0 and end == 0.0:
                feed.skip(frames)  # silent, but keep in step with the clock
                continue
            feed.read(buffer)
            if start == end:
                np.multiply(buffer, start, out=buffer)
            else:
                np.multiply(index, (end - start) / frames, out=ramp)
                np.add(ramp, start, out=ramp)
                np.multiply(buffer, ramp, out=buffer)
            np.add(out, buffer, out=out)
        soft_limit(out, excess, bent)

    def _follow_slot_table(self) -> None:
        """Audio side: feeds for the layers the control side put in the slots (allocates: only on a change)."""
        self._version = int(self.counts[VERSION])
        epochs = self.epochs.tolist()
        for slot, epoch in enumerate(epochs):
            feed = self.feeds[slot]
            if not epoch:
                self.feeds[slot] = None
            elif feed is None or feed.epoch != epoch:
                self.feeds[slot] = self.feed_for(slot, epoch)
        self.active = tuple(slot for slot, epoch in enumerate(epochs) if epoch)

    def _advance(self, frames: int) -> None:
        """Move every slew-limited value towards its target by at most rate x frames."""
        np.copyto(self._previous, self.current)
        np.subtract(self.target, self.current, out=self._step)
        np.multiply(self.rate, frames, out=self._limit)
        np.minimum(self._step, self._limit, out=self._step)
        np.negative(self._limit, out=self._limit)
        np.maximum(self._step, self._limit, out=self._step)
        np.add(self.current, self._step, out=self.current)

    def _gains(self, values: np.ndarray, master: float, out: np.ndarray) -> None:
        """level x sin(fade x pi/2) x supply x master, per slot."""
        np.multiply(values[FADE], math.pi / 2, out=out)
        np.sin(out, out=out)
        np.multiply(out, values[LEVEL], out=out)
        np.multiply(out, values[SUPPLY], out=out)
        np.multiply(out, master, out=out)


def soft_limit(x: np.ndarray, excess: np.ndarray, bent: np.ndarray, knee: float = LIMIT_KNEE) -> None:
    """In place: |x| up to `knee` passes untouched; above it the excess is bent by tanh towards 1.0.
    Continuous in value and slope at the knee, never above 1.0. `excess` and `bent` are scratch like x."""
    room = 1.0 - knee
    np.abs(x, out=excess)
    np.subtract(excess, knee, out=excess)
    np.maximum(excess, 0.0, out=excess)           # how far past the knee
    np.multiply(excess, 1.0 / room, out=bent)
    np.tanh(bent, out=bent)
    np.multiply(bent, room, out=bent)             # where the excess lands after bending
    np.subtract(excess, bent, out=excess)         # how much to take off
    np.copysign(excess, x, out=excess)
    np.subtract(x, excess, out=x)
