"""The show to an MP4 file: H.264 video and AAC audio through PyAV, encoded on its own thread.

`add_frame` and `add_audio` only queue and return: PyAV and libx264 encode on the recorder's thread (they let
go of the GIL while they work), so the show's frame never waits for the encoder. When the encoder falls
more than `queue` frames behind, new frames are dropped and counted: the recording skips a frame rather
than the show. Audio is never dropped.

Timestamps come from show time, not from counting: video frame k of the file is the first frame shown at
or after start + k / fps, and audio samples land at (t - start) * samplerate, so sound and picture stay in
sync however many frames are dropped. The file is a fragmented MP4 with a keyframe (and so a fragment)
every second: a process killed mid-show leaves a file that plays up to about a second before the kill.
`delay_moov` lets the muxer write the edit lists that hide x264's B-frame delay and AAC's priming samples,
which keeps the first fragment (and the sync) exact in every player.
"""

from __future__ import annotations

import logging
import math
import os
import struct
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from engine.settings.config import RecordingSettings
from engine.record.writer import BackgroundWriter, RecordingError, place_audio

log = logging.getLogger(__name__)

MP4_OPTIONS = {"movflags": "frag_keyframe+empty_moov+delay_moov+default_base_moof", "flush_packets": "1"}


@dataclass(frozen=True)
class RecordingStats:
    path: str
    frames: int          # video frames encoded
    dropped: int         # frames dropped because the encoder was behind
    seconds: float       # length of the video, from the last frame's timestamp
    audio_seconds: float
    error: str | None    # why the recording stopped early, if it did


class Recorder(BackgroundWriter):
    kind = "recording"

    def __init__(self, path: str | Path, size: tuple[int, int], fps: int, samplerate: int,
                 settings: RecordingSettings, start: float | None = None, wait: bool = False):
        """Open `path` for writing (RecordingError if that fails). `size` and `fps` are the video's;
        frames of another size are scaled on the encoder thread. `start` is the show time that becomes
        0:00 in the file (default: the first frame's). `wait`: when the encoder is behind,
        `add_frame` waits instead of dropping, and the encoder keeps its CPU priority (offline rendering,
        where no clock runs away and no show needs the core)."""
        super().__init__(path, yield_to_show=not wait)
        self.size, self.fps, self.samplerate = tuple(size), int(fps), int(samplerate)
        self.start, self.wait, self.preset = start, wait, settings.preset
        self.frames = self.dropped = 0
        self._last_pts = -1                   # newest pts handed over (caller's thread)
        self._written_pts = -1                # newest pts encoded (encoder thread)
        self._audio_next = 0                  # sample index the next audio sample goes to
        self._audio_slack = samplerate // (2 * fps)  # clocks may disagree by half a frame before we follow
        self._slots = threading.BoundedSemaphore(settings.queue)
        if any(side % 2 for side in self.size):
            raise RecordingError(f"recording size: expected even width and height (H.264 4:2:0), "
                                 f"found {self.size[0]}x{self.size[1]}")
        rates = av.Codec("aac", "w").audio_rates or ()
        if rates and self.samplerate not in rates:
            raise RecordingError(f"audio.samplerate: AAC takes {', '.join(map(str, sorted(rates)))} Hz, "
                                 f"found {self.samplerate}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._container = av.open(str(self.path), "w", format="mp4", options=MP4_OPTIONS)
        except (OSError, av.FFmpegError) as e:
            raise RecordingError(f"{self.path}: cannot write the recording: {e.strerror or e}") from None
        self._video = self._container.add_stream("libx264", rate=self.fps, options={
            "preset": settings.preset, "crf": str(settings.crf)})
        self._video.width, self._video.height = self.size
        self._video.pix_fmt = "yuv420p"
        self._video.time_base = Fraction(1, self.fps)
        self._video.codec_context.gop_size = self.fps  # a keyframe, so a fragment, every second
        self._audio = self._container.add_stream("aac", rate=self.samplerate, layout="stereo")
        self._audio.bit_rate = settings.audio_bitrate
        self._audio.time_base = Fraction(1, self.samplerate)
        self._start()

    # --- the caller's side: never waits -------------------------------------------------------------

    def wants_frame(self, t: float) -> bool:
        """Whether a frame shown at show time t would be a new video frame (the display may run faster
        than the recording; skipping here saves copying frames that would be thrown away)."""
        return self.active and self._pts(t) > self._last_pts

    def add_frame(self, rgb: np.ndarray | bytes, t: float, size: tuple[int, int] | None = None) -> None:
        """Queue a picture shown at show time t: an (h, w, 3) uint8 array (copied) or RGB bytes of `size`
        (default: the recording's). Dropped and counted when the encoder is `queue` frames behind."""
        if self.start is None:
            self.start = t
        pts = self._pts(t)
        if not self.active or pts <= self._last_pts:
            return
        if not self._slots.acquire(blocking=self.wait):
            self.dropped += 1
            return
        self._last_pts = pts
        if isinstance(rgb, np.ndarray):
            image = np.array(rgb, dtype=np.uint8, copy=True)
        else:
            width, height = size or self.size
            image = np.frombuffer(rgb, np.uint8).reshape(height, width, 3)
        if not self._submit(("video", image, pts)):
            self._slots.release()

    def add_audio(self, block: np.ndarray, t: float) -> None:
        """Queue float32 stereo samples (frames, 2) whose first sample plays at show time t (copied).
        Sound handed over before the first frame (when no `start` was given) is not recorded."""
        if self.start is None:
            return
        self._submit(("audio", np.array(block, dtype=np.float32, copy=True), t))

    def stop(self) -> RecordingStats:
        """Encode what is queued, close the file, log and return what was recorded."""
        super().stop()
        stats = self.stats()
        if stats.error is None:
            log.info("recording saved: %s (%d frames, %.1f s, %d dropped)", stats.path, stats.frames,
                     stats.seconds, stats.dropped)
        if stats.dropped:
            log.warning("%s: %d frames dropped because the encoder fell behind (preset %r is too slow for "
                        "this machine? try a faster one)", stats.path, stats.dropped,
                        self.preset)
        return stats

    def stats(self) -> RecordingStats:
        return RecordingStats(str(self.path), self.frames, self.dropped,
                              (self._written_pts + 1) / self.fps, self._audio_next / self.samplerate, self.error)

    def _pts(self, t: float) -> int:
        # Floor, not round: a display at a multiple of the recording's rate (60 -> 30 fps) is then recorded
        # exactly on its own frames. The thousandth of a frame absorbs clock arithmetic (i / 30 * 30 < i).
        return math.floor((t - (self.start if self.start is not None else t)) * self.fps + 1e-3)

    # --- the encoder thread -------------------------------------------------------------------------

    def _write(self, item) -> None:
        kind, data, when = item
        if kind == "video":
            self._encode_video(data, when)
        else:
            self._encode_audio(data, when)

    def _done(self, item) -> None:
        if item[0] == "video":
            self._slots.release()  # even after a failure: a waiting add_frame must never hang

    def _encode_video(self, image: np.ndarray, pts: int) -> None:
        # Wrapping the array (no copy) keeps this thread's hold on the GIL short: from_ndarray's copy held it
        # for about a millisecond a 720p frame, long enough to delay the show's frame now and then.
        frame = av.VideoFrame.from_numpy_buffer(image, format="rgb24")
        width, height = self.size
        frame = frame.reformat(width, height, "yuv420p", interpolation="BILINEAR")
        frame.pts = pts
        self._container.mux(self._video.encode(frame))
        self.frames += 1
        self._written_pts = pts

    def _encode_audio(self, block: np.ndarray, t: float) -> None:
        block = place_audio(block, t, self.start, self.samplerate, self._audio_next, self._audio_slack)
        if not len(block):
            return
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block.T), format="fltp", layout="stereo")
        frame.sample_rate = self.samplerate
        frame.pts = self._audio_next
        self._container.mux(self._audio.encode(frame))
        self._audio_next += len(block)

    def _finish(self) -> None:
        try:
            if self.error is None:
                self._container.mux(self._video.encode(None))
                self._container.mux(self._audio.encode(None))
        finally:
            try:
                self._container.close()
            finally:
                whole_fragments(self.path)


def whole_fragments(path: Path) -> None:
    """Cut a fragmented MP4 back to its last whole fragment (moof + mdat). When writing failed (a full disk,
    a file-size limit) the last box is cut short, and players then read the file with errors; without it
    the file ends cleanly on the last second written. A file written to its end is left as it is."""
    try:
        with open(path, "r+b") as f:
            size = f.seek(0, os.SEEK_END)
            position = good = 0
            while position + 8 <= size:
                f.seek(position)
                length, kind = struct.unpack(">I4s", f.read(8))
                if length == 1:
                    (length,) = struct.unpack(">Q", f.read(8))
                if length < 8 or position + length > size:
                    break  # cut short: what follows is not whole
                position += length
                if kind in (b"mdat", b"mfra"):
                    good = position  # a fragment (or the index at the end) is whole
            if good and position < size:
                f.truncate(good)
                log.warning("%s: cut back to its last whole second (%d of %d bytes)", path, good, size)
    except OSError as e:
        log.warning("%s: could not tidy its end: %s", path, e)
