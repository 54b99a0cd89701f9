"""The sounddevice OutputStream, kept open: found by name or index, reopened with back-off when lost.

A stream is lost when PortAudio aborts it (device unplugged, sound server restarted, an exception in the
callback) or when its callbacks stop coming. `check(now)` notices and reopens it; while no device can be
opened it retries with growing pauses, re-initializing PortAudio so that it sees servers and devices that
came back, logging once per try, and the rest of the show runs on.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from engine.settings.config import AudioSettings
from engine.errors import UserError

log = logging.getLogger(__name__)

STALL_SECONDS = 2.0  # no callback for this long on a running stream: treat it as lost
NO_SPEAKERS = "none"  # audio.device value: mix on the clock for recordings, play nothing


def find_output(device: str, pinned: tuple[str, str] | None = None):
    """The sounddevice output device for config.audio.device: '' (default), an index, or part of a name
    (or of its host API's name, e.g. 'JACK'). `pinned` (name, host API): exactly the device chosen at the
    first open, wherever PortAudio lists it now; a search by part of a name could find another one (a JACK
    client whose name contains 'jack')."""
    import sounddevice as sd

    if device == NO_SPEAKERS:
        return NO_SPEAKERS
    outputs = [(i, d) for i, d in enumerate(sd.query_devices()) if d["max_output_channels"] >= 2]
    apis = sd.query_hostapis()
    if pinned is not None:
        for i, d in outputs:
            if (d["name"], apis[d["hostapi"]]["name"]) == pinned:
                return i
        raise sd.PortAudioError(f"the output chosen at start ({pinned[0]}, {pinned[1]}) is not there now")
    if device == "":
        return None
    if device.isdigit():
        return int(device)
    for i, d in outputs:
        if device.lower() in d["name"].lower():
            return i
    for i, d in outputs:
        if device.lower() in apis[d["hostapi"]]["name"].lower():
            return i
    names = ", ".join(f"{i}: {d['name']} ({apis[d['hostapi']]['name']})" for i, d in outputs) or "none"
    raise UserError(f"audio.device: expected an output device name, part of one, or an index; found "
                    f"{device!r} (outputs here: {names})")


def latency_value(latency: str):
    """'low', 'high' or seconds as text -> what sounddevice takes."""
    if latency in ("low", "high"):
        return latency
    try:
        return float(latency)
    except ValueError:
        raise UserError(f"audio.latency: expected 'low', 'high' or seconds like '0.05', found {latency!r}") from None


class StreamKeeper:
    def __init__(self, settings: AudioSettings, callback, min_delay: float = 0.5, max_delay: float = 10.0,
                 pinned: tuple[str, str] | None = None, on_pinned=None):
        """`pinned`: the (name, host API) of the device to reopen, chosen by an earlier open; `on_pinned(pin)`
        is told the device the first open chose (the player keeps it for its successors)."""
        self.settings, self.callback = settings, callback
        self.pinned, self.on_pinned = pinned, on_pinned
        self.on_clock: PacedOutput | None = None  # the mix on the clock while the output cannot open
        self._on_clock_told = False
        self.latency = latency_value(settings.latency)
        self.min_delay, self.max_delay = min_delay, max_delay
        self.stream = None
        self.restarts = 0
        self.callbacks = 0        # raised by the callback owner: the keeper watches it move
        self._delay = min_delay
        self._retry_at = 0.0
        self._lost = False
        self._failures = 0        # reopen attempts failed in a row
        self._seen = (0, 0.0)     # (callbacks, when that count was first seen)

    def open(self) -> None:
        """Open and start the stream; raises sounddevice.PortAudioError or UserError when it cannot."""
        import sounddevice as sd

        self._lost = False
        device = find_output(self.settings.device, self.pinned)
        if device == NO_SPEAKERS:
            stream = PacedOutput(self.callback, self.settings.samplerate, self.settings.blocksize)
            stream.start()
            self.stream = stream
            self._seen = (self.callbacks, time.monotonic())
            log.info("audio: no speakers (audio.device = %r): the mix runs on the clock for recordings",
                     NO_SPEAKERS)
            return
        stream = sd.OutputStream(device=device, samplerate=self.settings.samplerate,
                                 blocksize=self.settings.blocksize, latency=self.latency, channels=2,
                                 dtype="float32", callback=self.callback, finished_callback=self._finished)
        self._stop_clock()  # one callback at a time: the clock's until the device's starts
        try:
            stream.start()
        except Exception:
            stream.close()
            raise
        self.stream = stream
        self._seen = (self.callbacks, time.monotonic())
        self._on_clock_told = False
        info = sd.query_devices(stream.device)
        if self.pinned is None:
            self.pinned = (info["name"], sd.query_hostapis(info["hostapi"])["name"])
            if self.on_pinned is not None:
                self.on_pinned(self.pinned)
        log.info("audio: %s (%s) at %d Hz, block %d, output latency %.1f ms", *self.pinned,
                 int(stream.samplerate), stream.blocksize, stream.latency * 1000)

    def check(self, now: float) -> None:
        """Reopen a lost stream (after a pause that doubles with each failure)."""
        if self.stream is not None and not self._lost:
            if self.callbacks != self._seen[0]:
                self._seen = (self.callbacks, now)
                self._delay = self.min_delay
                return
            if now - self._seen[1] < STALL_SECONDS:
                return
            log.warning("audio: no callback for %.1f s; reopening the stream", now - self._seen[1])
            self._lost = True
        if self.stream is not None:
            self._close()
            self._retry_at = now + self._delay
            log.warning("audio: the stream was lost; reopening in %.1f s", self._delay)
        if now < self._retry_at:
            return
        self.restarts += 1
        try:
            if self._failures:
                # Only when a plain reopen failed: re-initializing PortAudio right after a stream died
                # crashed the process now and then here (JACK); a restarted server or a new device needs it.
                self._rescan()
            self.open()
            self._failures = 0
            log.info("audio: stream reopened (reopen %d)", self.restarts)
        except Exception as e:  # PortAudioError, a device gone: try again later, keep the show going
            self._failures += 1
            self._delay = min(self._delay * 2, self.max_delay)
            self._retry_at = time.monotonic() + self._delay  # trying may itself have taken a while
            log.warning("audio: cannot open the output (%s); next try in %.1f s", e, self._delay)
            self.run_on_clock()

    def run_on_clock(self) -> None:
        """While the output cannot open, the mix runs on the clock as with audio.device = "none": the
        recorder's tap gets the sound, the speakers get it once the device is back."""
        if self.on_clock is None:
            self.on_clock = PacedOutput(self.callback, self.settings.samplerate, self.settings.blocksize)
            self.on_clock.start()
            if not self._on_clock_told:
                self._on_clock_told = True
                log.warning("audio: no output: the mix runs on the clock until it opens (recordings keep "
                            "their sound)")

    def _stop_clock(self) -> None:
        if self.on_clock is not None:
            self.on_clock.abort()
            self.on_clock.close()
            self.on_clock = None

    def close(self) -> None:
        self._lost = False
        self._stop_clock()
        if self.stream is not None:
            self._close()

    def _finished(self) -> None:
        """PortAudio's finished callback: the stream ended without us asking (we clear the stream first)."""
        if self.stream is not None:
            self._lost = True

    def _close(self) -> None:
        stream, self.stream = self.stream, None
        try:
            stream.abort()
            stream.close()
        except Exception as e:  # a dead device may refuse even this
            log.debug("audio: closing the lost stream: %s", e)

    @staticmethod
    def _rescan() -> None:
        """Let PortAudio see devices and servers that came (back) since it started."""
        import sounddevice as sd

        sd._terminate()
        sd._initialize()


def has_output() -> bool:
    """Whether PortAudio sees any stereo output (a sound card or a sound server) on this machine."""
    import sounddevice as sd

    return any(d["max_output_channels"] >= 2 for d in sd.query_devices())


class PacedOutput:
    """A stand-in for the sounddevice stream when there are no speakers: a thread calls the same callback
    once per block on the monotonic clock, so the mix still reaches the recorder's tap."""

    def __init__(self, callback, samplerate: int, blocksize: int):
        import sounddevice as sd

        self.callback, self.samplerate, self.blocksize = callback, samplerate, blocksize
        self._out = np.zeros((blocksize, 2), np.float32)
        self._status = sd.CallbackFlags()
        self._running = False
        self._thread = threading.Thread(target=self._run, name="paced-audio", daemon=True)

    def start(self) -> None:
        self._running = True
        self._thread.start()

    def _run(self) -> None:
        period = self.blocksize / self.samplerate
        due = time.monotonic()
        while self._running:
            self.callback(self._out, self.blocksize, None, self._status)
            due += period
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            elif wait < -1.0:  # stalled for a long while: go on from now rather than catch up in a burst
                due = time.monotonic()

    def abort(self) -> None:
        self._running = False

    def close(self) -> None:
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)
