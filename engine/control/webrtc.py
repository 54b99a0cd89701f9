"""WebRTC for the web face: the live picture and the live sound in the browser, through aiortc.

The page sends an SDP offer (`POST /offer`); the show answers with a peer connection that carries a video
track (the pictures the web face's encoder thread scales, as the MJPEG stream gets them) and an audio track
(the mix, from the audio taps, as the recorder gets it). aiortc encodes them (VP8 or H.264, Opus) on threads
of its own. A browser that cannot connect (no route between the two, aiortc not installed) keeps the MJPEG
picture.

Bounded: at most MAX_PEERS connections; each track keeps only the newest picture, and at most MAX_SOUND
seconds of sound (older blocks are dropped and counted: a stalled connection never grows a backlog).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import time
from fractions import Fraction

import numpy as np
from aiohttp import web

log = logging.getLogger(__name__)

MAX_PEERS = 4
MAX_SOUND = 0.5          # seconds of sound a track may hold before it drops the oldest
FRAME_SECONDS = 0.02     # 20 ms audio frames, as Opus sends them
VIDEO_CLOCK = 90000      # RTP's video clock rate


def _track_base():
    from aiortc import MediaStreamTrack

    return MediaStreamTrack


class WebRtc:
    """The peers of one web face; every method runs on the web server's loop."""

    def __init__(self, samplerate: int):
        self.samplerate = samplerate
        self.stats = {"peers": 0, "refused": 0, "sound_dropped": 0}
        self._peers: dict = {}  # RTCPeerConnection -> (picture track, sound track)

    @property
    def watching(self) -> int:
        return len(self._peers)

    async def answer(self, request: web.Request) -> web.StreamResponse:
        try:
            from aiortc import RTCPeerConnection, RTCSessionDescription
        except ImportError:
            return web.json_response({"error": "WebRTC needs the `web` extra (aiortc); the MJPEG picture stays"},
                                     status=501)
        if len(self._peers) >= MAX_PEERS:
            self.stats["refused"] += 1
            return web.json_response({"error": f"too many WebRTC viewers (at most {MAX_PEERS})"}, status=503)
        try:
            offer = await request.json()
            if offer.get("type") != "offer" or not isinstance(offer.get("sdp"), str):
                raise ValueError
        except (ValueError, AttributeError):
            return web.json_response({"error": 'expected {"type": "offer", "sdp": "..."}'}, status=400)
        peer = RTCPeerConnection()
        tracks = (_picture_track()(), _sound_track()(self))
        self._peers[peer] = tracks
        self.stats["peers"] += 1

        @peer.on("connectionstatechange")
        async def _changed():
            if peer.connectionState in ("failed", "closed"):
                await self._close(peer)

        for track in tracks:
            peer.addTrack(track)
        try:
            await peer.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
            await peer.setLocalDescription(await peer.createAnswer())
        except Exception as e:  # an offer aiortc cannot answer (no common codec, broken SDP)
            await self._close(peer)
            return web.json_response({"error": f"offer not answered: {type(e).__name__}: {e}"[:300]}, status=400)
        return web.json_response({"type": peer.localDescription.type, "sdp": peer.localDescription.sdp})

    def picture(self, rgb: np.ndarray) -> None:
        for picture, _ in self._peers.values():
            picture.put(rgb)

    def sound(self, block: np.ndarray) -> None:
        for _, sound in self._peers.values():
            sound.put(block)

    async def close_all(self) -> None:
        for peer in list(self._peers):
            await self._close(peer)

    async def _close(self, peer) -> None:
        tracks = self._peers.pop(peer, ())
        for track in tracks:
            track.stop()
        await peer.close()


@functools.cache  # aiortc is imported only when a browser asks for WebRTC
def _picture_track():
    class PictureTrack(_track_base()):
        """The newest picture, each one once (the browser shows the last until the next)."""
        kind = "video"

        def __init__(self):
            super().__init__()
            self._rgb: np.ndarray | None = None
            self._new = asyncio.Event()
            self._start: float | None = None

        def put(self, rgb: np.ndarray) -> None:
            self._rgb = rgb
            self._new.set()

        async def recv(self):
            import av

            await self._new.wait()
            self._new.clear()
            frame = av.VideoFrame.from_ndarray(self._rgb, format="rgb24")
            now = time.monotonic()
            self._start = self._start if self._start is not None else now
            frame.pts, frame.time_base = int((now - self._start) * VIDEO_CLOCK), Fraction(1, VIDEO_CLOCK)
            return frame

    return PictureTrack


@functools.cache
def _sound_track():
    class SoundTrack(_track_base()):
        """The mix in 20 ms frames of 16-bit stereo, paced by the mix itself (the taps deliver in real time)."""
        kind = "audio"

        def __init__(self, owner: WebRtc):
            super().__init__()
            self.owner, self.rate = owner, owner.samplerate
            self._blocks: collections.deque[np.ndarray] = collections.deque()
            self._held = 0
            self._more = asyncio.Event()
            self._sent = 0

        def put(self, block: np.ndarray) -> None:
            pcm = (np.clip(block, -1.0, 1.0) * 32767).astype(np.int16)  # (frames, 2): interleaved as it lies
            self._blocks.append(pcm)
            self._held += len(pcm)
            while self._held > MAX_SOUND * self.rate:
                self._held -= len(self._blocks.popleft())
                self.owner.stats["sound_dropped"] += 1
            self._more.set()

        async def recv(self):
            import av

            samples = round(FRAME_SECONDS * self.rate)
            while self._held < samples:
                self._more.clear()
                await self._more.wait()
            pcm = np.concatenate(list(self._blocks))
            self._blocks.clear()
            frame_pcm, rest = pcm[:samples], pcm[samples:]
            if len(rest):
                self._blocks.append(rest)
            self._held = len(rest)
            frame = av.AudioFrame(format="s16", layout="stereo", samples=samples)
            frame.planes[0].update(frame_pcm.tobytes())
            frame.sample_rate, frame.pts, frame.time_base = self.rate, self._sent, Fraction(1, self.rate)
            self._sent += samples
            return frame

    return SoundTrack
