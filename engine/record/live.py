"""Recording a live show: /record/start and /record/stop (OSC, MIDI, key r) start and stop MP4 files;
the perform loop hands over its frames, the audio engine's tap the mixed sound.

Everything here runs on the show's main thread except `audio`, which the audio engine calls from its tap
thread. Nothing waits: opening a file takes a few milliseconds, frames are queued, and a recording is
finished (its queue encoded, the file closed) on a thread of its own, so stopping never holds a frame.
A recording that fails (a full disk) ends with a logged message and /record/active goes back to 0; the
show goes on.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np

from engine.settings.config import Config
from engine.record.recorder import Recorder
from engine.record.wav import WavRecorder
from engine.record.writer import RecordingError

log = logging.getLogger(__name__)


class LiveRecording:
    def __init__(self, config: Config, samplerate: int, clock: Callable[[], float],
                 report: Callable[[str, Any], None] = lambda address, value: None,
                 audio_path: str | Path | None = None):
        """`clock`: the show's clock (the perform loop's `now`). `report(address, value)` tells the show
        a read-only fact (/record/active). `audio_path`: also write the mixed sound alone to this WAV for
        the whole show (`--record-audio`)."""
        self.config, self.samplerate, self.clock, self.report = config, samplerate, clock, report
        self.recorder: Recorder | None = None
        # From now (the show's first frame): sound that starts later is placed after leading silence.
        self.wav = WavRecorder(audio_path, samplerate, start=clock()) if audio_path else None
        self._finishing: list[threading.Thread] = []
        self._ended: list[tuple[Recorder, str | None]] = []  # every recording stopped, and why if not asked to
        self._next_size_look = 0.0
        self._audio_anchor: tuple[float, int] | None = None  # (show time, audio frame index) of one block

    # ---- main thread ------------------------------------------------------------------------------

    def follow(self, show) -> None:
        """/record/start and /record/stop (OSC, MIDI, key r) start and stop recordings."""
        show.on("/record/start", lambda address, value, source: self.start())
        show.on("/record/stop", lambda address, value, source: self.stop())

    def start(self, path: str | Path | None = None) -> bool:
        """Begin a recording (to `path`, or a new file in the recordings folder); False if it cannot."""
        if self.recorder is not None:
            log.info("already recording to %s", self.recorder.path)
            return True
        path = Path(path) if path else self._new_path()
        settings = self.config.recording
        try:
            # The file starts at the next frame drawn: its show time is not known yet.
            self.recorder = Recorder(path, settings.size, settings.fps, self.samplerate, settings)
        except RecordingError as e:
            log.error("%s; the show goes on", e)
            return False
        log.info("recording to %s (%dx%d, %d fps, %s)", path, *settings.size, settings.fps, settings.preset)
        self.report("/record/active", True)
        return True

    def stop(self, why: str | None = None) -> None:
        """End the recording; the file is finished on a thread of its own. `why`: a limit stopped it."""
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return
        self.report("/record/active", False)
        self._ended.append((recorder, why))
        finishing = threading.Thread(target=recorder.stop, name=f"finish {recorder.path.name}")
        finishing.start()
        self._finishing.append(finishing)

    def frame(self, surface, now: float) -> None:
        """Hand over the frame just drawn (a pygame Surface) shown at show time `now`."""
        recorder = self.recorder
        if recorder is None:
            return
        if not recorder.active:  # it stopped itself (disk full): say so and let it go
            log.error("recording %s stopped early: %s; the show goes on", recorder.path, recorder.error)
            self.stop()
            return
        limit = self._limit(recorder, now)
        if limit is not None:
            log.warning("recording %s stopped: %s; the show goes on", recorder.path, limit)
            self.stop(limit)
            return
        if recorder.wants_frame(now):
            import pygame  # the perform loop has it loaded already
            recorder.add_frame(pygame.image.tobytes(surface, "RGB"), now, surface.get_size())

    def close(self) -> None:
        """End everything and wait until every file is finished (the end of the show)."""
        self.stop()
        if self.wav is not None:
            self.wav.stop()
        for finishing in self._finishing:
            finishing.join()

    def outcome(self, path: str | Path) -> str | None:
        """After close(): why the recording to `path` stopped before it was asked to (a limit, a full disk),
        or None when it ran until the end."""
        reasons = [why or recorder.error for recorder, why in self._ended if recorder.path == Path(path)]
        return next((reason for reason in reasons if reason), None)

    def _limit(self, recorder: Recorder, now: float) -> str | None:
        """The [recording] limit this recording reached, if any (its size is looked at once a second)."""
        settings = self.config.recording
        if settings.max_seconds and recorder.start is not None and now - recorder.start >= settings.max_seconds:
            return f"it reached recording.max_seconds ({settings.max_seconds:g} s)"
        if settings.max_bytes and now >= self._next_size_look:
            self._next_size_look = now + 1.0
            try:
                size = recorder.path.stat().st_size
            except OSError:
                return None
            if size >= settings.max_bytes:
                return f"it reached recording.max_bytes ({settings.max_bytes:,} bytes)"
        return None

    # ---- the audio engine's tap thread ------------------------------------------------------------

    def audio(self, block: np.ndarray, frame_index: int) -> None:
        """An audio tap: every mixed block, with the index of its first frame in the output stream.
        The stream's sample clock is tied to show time once, at the first block, so the sound stays
        sample-continuous and locked to the picture from then on."""
        if self._audio_anchor is None:
            self._audio_anchor = (self.clock(), frame_index)
        anchor_time, anchor_index = self._audio_anchor
        t = anchor_time + (frame_index - anchor_index) / self.samplerate
        recorder = self.recorder
        if recorder is not None:
            recorder.add_audio(block, t)
        if self.wav is not None:
            self.wav.add_audio(block, t)

    def _new_path(self) -> Path:
        stamp = dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        folder = self.config.path("recordings")
        path, n = folder / f"postcards-{stamp}.mp4", 1
        while path.exists():
            n += 1
            path = folder / f"postcards-{stamp}-{n}.mp4"
        return path
