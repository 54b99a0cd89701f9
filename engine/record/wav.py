"""The mixed sound alone to a WAV file (`--record-audio FILE.wav`), written on its own thread.

32-bit float samples, so the file holds exactly what the mixer made (no clipping, no dither); soundfile
(libsndfile) writes it. Blocks are placed by show time like the MP4 recorder's audio: a gap between the
show clock and the audio clock of more than half a 30 fps frame becomes silence or is trimmed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import soundfile

from engine.record.writer import BackgroundWriter, RecordingError, place_audio

log = logging.getLogger(__name__)


class WavRecorder(BackgroundWriter):
    kind = "audio recording"

    def __init__(self, path: str | Path, samplerate: int, start: float | None = None):
        super().__init__(path)
        self.samplerate, self.start = int(samplerate), start
        self.slack = self.samplerate // 60
        self.samples = 0  # written so far (writer thread)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = soundfile.SoundFile(str(self.path), "w", samplerate=self.samplerate, channels=2,
                                             format="WAV", subtype="FLOAT")
        except (OSError, soundfile.LibsndfileError) as e:
            raise RecordingError(f"{self.path}: cannot write the audio recording: "
                                 f"{getattr(e, 'strerror', None) or e}") from None
        self._start()

    def add_audio(self, block: np.ndarray, t: float) -> None:
        """Queue float32 stereo samples (frames, 2) whose first sample plays at show time t (copied)."""
        if self.start is None:
            self.start = t
        self._submit((np.array(block, dtype=np.float32, copy=True), t))

    def stop(self) -> float:
        """Write what is queued and close the file; returns the seconds recorded."""
        super().stop()
        if self.error is None:
            log.info("audio recording saved: %s (%.1f s)", self.path, self.samples / self.samplerate)
        return self.samples / self.samplerate

    def _write(self, item) -> None:
        block, t = item
        block = place_audio(block, t, self.start, self.samplerate, self.samples, self.slack)
        self._file.write(block)
        self.samples += len(block)

    def _finish(self) -> None:
        self._file.close()
