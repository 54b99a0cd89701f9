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

    def stop(self) -> None:
        """End the recording; the file is finished on a thread of its own."""
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return
        self.report("/record/active", False)
        finishing = threading.Thread(target=recorder.stop, name=f"finish {recorder.path.name}")
        finishing.start()
        self._finishing.append(finishing)

    def frame(self, surface, now: float) -> None:
        """Hand over the frame just drawn (a pygame Surface) shown at show time `now`."""
        recorder = self.recorder
        if recorder is None:
            return
        if not recorder.active:  # it stopped itself (disk full): say so and let it go
            self.stop()
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
