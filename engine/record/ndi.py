"""NDI output: the show's canvas (the frame as drawn, at its size and frame rate) and its mix as one NDI
source, so Resolume, TouchDesigner, OBS or vMix can take the show live.

Through cyndilib (MIT; its wheel carries Vizrt's NDI runtime, whose own licence comes in the wheel as
libndi_licenses.txt): the `ndi` extra. The frame loop only copies the drawn frame into a free slot
(engine/record/handoff.py); this output's thread hands it to NDI, which copies it again and sends it
without waiting. The mix arrives from the audio taps (as the recorder's does) and is sent from the same
thread. Nothing here ever holds the show: a frame or an audio block that finds no room is dropped and counted.
"""

from __future__ import annotations

import collections
import logging
import threading
from fractions import Fraction

import numpy as np

from engine.errors import UserError
from engine.record.handoff import Handoff

log = logging.getLogger(__name__)

AUDIO_BLOCKS = 64        # mix blocks waiting for the sender (~0.7 s at 512 frames, 48 kHz) before drops
MAX_AUDIO_SAMPLES = 8192  # the largest block one NDI audio frame carries


def load_cyndilib():
    try:
        import cyndilib
    except ImportError:
        raise UserError("ndi.enabled: the NDI output needs the `ndi` extra (pip install 'postcards-jungle[ndi]', "
                        "which brings cyndilib and its NDI runtime)") from None
    return cyndilib


class NdiOutput:
    def __init__(self, name: str, fps: int, samplerate: int):
        self.name, self.fps, self._samplerate = name, fps, samplerate
        self.handoff = Handoff()
        self.stats = {"frames_sent": 0, "audio_sent": 0, "audio_dropped": 0, "errors": 0}
        self._audio: collections.deque[np.ndarray] = collections.deque()
        self._audio_lock = threading.Lock()
        self._cyndilib = load_cyndilib()
        self._sender = None
        self._size: tuple[int, int] | None = None
        self._sender_rate = samplerate  # the audio rate the sender opened with
        self._resampler = None
        self._resampling_from = 0
        self._resampled = np.zeros((2, 0), np.float32)  # resampled sound short of a whole block
        self._thread: threading.Thread | None = None

    wants_frames = True  # every frame the show draws goes out (the web face's picture only while watched)

    @property
    def samplerate(self) -> int:
        return self._samplerate

    @samplerate.setter
    def samplerate(self, rate: int) -> None:
        """The mix's own rate (the sound card's, known once the mix runs). NDI fixes the audio rate when the
        sender opens (and receivers do not follow a sender that opens again), so a mix at another rate is
        resampled to the sender's (libswresample, through PyAV)."""
        self._samplerate = rate

    @property
    def frames_dropped(self) -> int:
        return self.handoff.stats["dropped"]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._send_forever, name="ndi", daemon=True)
        self._thread.start()
        log.info("NDI source %r", self.name)

    def stop(self) -> None:
        self.handoff.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        log.info("NDI stopped: %s, frames dropped %d", ", ".join(f"{k} {v}" for k, v in self.stats.items()),
                 self.frames_dropped)

    # ---- the frame loop and the audio tap thread ----------------------------------------------------------

    def frame(self, surface, now: float) -> None:
        self.handoff.offer(surface, now)

    def audio(self, block: np.ndarray, frame_index: int) -> None:
        """An audio tap: the mixed block (frames, 2) becomes NDI's planar (2, frames), queued for the sender."""
        with self._audio_lock:
            if len(self._audio) >= AUDIO_BLOCKS:
                self.stats["audio_dropped"] += 1
                return
            self._audio.append(np.ascontiguousarray(block[:MAX_AUDIO_SAMPLES].T, dtype=np.float32))

    # ---- this output's thread ----------------------------------------------------------------------------

    def _send_forever(self) -> None:
        try:
            while not self.handoff.closed:
                taken = self.handoff.take(timeout=0.01)
                try:
                    if taken is not None:
                        self._send_video(taken[0])
                    self._send_audio()
                except Exception as e:  # NDI refused one frame: count it, keep sending
                    self.stats["errors"] += 1
                    log.warning("NDI: %s: %s", type(e).__name__, e)
                finally:
                    if taken is not None:
                        self.handoff.release(taken[0])
        finally:
            if self._sender is not None:
                self._sender.close()
                self._sender = None

    def _send_video(self, frame: np.ndarray) -> None:
        height, width, _ = frame.shape
        if (width, height) != self._size:
            self._open((width, height))
        self._sender.write_video_async(frame.reshape(-1))
        self.stats["frames_sent"] += 1

    def _send_audio(self) -> None:
        if self._sender is None:
            return  # audio goes with the first frame's sender; until then the blocks wait (or drop)
        while True:
            with self._audio_lock:
                if not self._audio:
                    return
                block = self._audio.popleft()
            for planar in self._at_sender_rate(block):
                self._sender.write_audio(planar)
            self.stats["audio_sent"] += 1

    def _at_sender_rate(self, block: np.ndarray) -> list[np.ndarray]:
        """A (2, frames) block at the sender's rate: as it is, or through a resampler kept across blocks."""
        if self._samplerate == self._sender_rate:
            return [block]
        import av

        if self._resampler is None or self._resampling_from != self._samplerate:
            self._resampler = av.AudioResampler(format="fltp", layout="stereo", rate=self._sender_rate)
            self._resampling_from = self._samplerate
        frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
        frame.sample_rate = self._samplerate
        # Out in blocks of the size that came in (the resampler's own come in odd sizes; receivers like even).
        made = [self._resampled] + [out.to_ndarray() for out in self._resampler.resample(frame)]
        waiting = np.concatenate(made, axis=1).astype(np.float32, copy=False)
        size = block.shape[1]
        whole = waiting.shape[1] // size * size
        self._resampled = waiting[:, whole:]
        return [np.ascontiguousarray(waiting[:, at:at + size]) for at in range(0, whole, size)]

    def _open(self, size: tuple[int, int]) -> None:
        """A sender for frames of this size (again when the window changes size)."""
        nd = self._cyndilib
        if self._sender is not None:
            self._sender.close()
        video = nd.VideoSendFrame()
        video.set_resolution(*size)
        video.set_fourcc(getattr(nd.FourCC, self.handoff.order))  # the surface's bytes as they are
        video.set_frame_rate(Fraction(self.fps, 1))
        audio = nd.AudioSendFrame(MAX_AUDIO_SAMPLES)
        audio.sample_rate = self._sender_rate = self._samplerate
        audio.num_channels = 2
        # The show paces itself: NDI's own clocking would make this thread wait for it.
        sender = nd.Sender(self.name, clock_video=False, clock_audio=False)
        sender.set_video_frame(video)
        sender.set_audio_frame(audio)
        sender.open()
        self._sender, self._size = sender, size
