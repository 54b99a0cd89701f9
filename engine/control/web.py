"""The web face: the show in a browser, with a control surface made from the OSCQuery tree.

With `[web] enabled = true` the show serves, on `[osc] host`:`[web] port`, behind the same allowlist and
Host check as OSCQuery (engine/control/webserver.py):

| path | what |
|---|---|
| `/` | the page (engine/control/static/: plain HTML, CSS and JS, no build step, nothing from elsewhere) |
| `/tree` | the OSCQuery tree as the web may use it: read-only-for-the-web values have ACCESS 1 |
| `/ws` | LISTEN/IGNORE as OSCQuery's WebSocket; the page sends its changes as OSC binary frames here |
| `/picture.mjpg` | the live picture as MJPEG (multipart JPEG frames, `[web] picture_fps` a second) |
| `/picture.jpg` | the latest picture, once |
| `/offer` | WebRTC (POST an SDP offer): the picture and the sound (engine/control/webrtc.py) |

The picture costs the frame loop one copy of the drawn frame, and only while someone watches: the
copy goes to an encoder thread (engine/record/handoff.py), which scales it to `picture_width` and makes a
JPEG; a frame the encoder cannot take in time is dropped and counted, never waited for.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
import time
from pathlib import Path

import numpy as np

from aiohttp import web
from PIL import Image

from engine.control.listen import Listening
from engine.control.oscquery import ACCESS, find, show_tree
from engine.control.webrtc import WebRtc
from engine.control.webserver import HttpServer
from engine.errors import UserError
from engine.record.handoff import Handoff
from engine.settings.config import Config
from engine.show.controls import Control

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
MAX_VIEWERS = 8
BOUNDARY = "postcard"


class WebFace:
    def __init__(self, config: Config, show):
        self.config, self.show, self.settings = config, show, config.web
        for i, entry in enumerate(self.settings.read_only):
            if not entry.startswith("/"):
                raise UserError(f"web.read_only[{i}]: expected an address like '/show/quit' (or '/record/' for "
                                f"everything under it), found {entry!r}")
        self.stats = {"pictures": 0, "viewers_refused": 0}
        app = web.Application()
        app.router.add_get("/", self._page)
        app.router.add_static("/static/", STATIC, follow_symlinks=False)
        app.router.add_get("/tree", self._tree)
        app.router.add_get("/ws", self._websocket)
        app.router.add_get("/picture.mjpg", self._mjpeg)
        app.router.add_get("/picture.jpg", self._still)
        app.router.add_post("/offer", self._offer)
        self._http = HttpServer(app, config.osc.host, self.settings.port, allow=config.osc.allow, key="web.port",
                                what="web face", hostnames=config.osc.hostnames)
        self.listening = Listening(show, self._http.call, source="web", writable=self.writable)
        self.webrtc = WebRtc(config.audio.samplerate)  # the perform loop sets the mix's own rate
        self.handoff = Handoff()
        self.viewers = 0             # MJPEG streams and still requests waiting: frames are copied only then
        self.jpeg: bytes | None = None
        self._jpeg_index = 0
        self._picture_event: asyncio.Event | None = None
        self._next_offer = 0.0
        self._encoder: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int] | None:
        return self._http.address

    def writable(self, control: Control) -> bool:
        """Whether the web may set this control: not read-only, and not in `[web] read_only`."""
        return control.access != "r" and not any(
            control.address == entry or (entry.endswith("/") and control.address.startswith(entry))
            for entry in self.settings.read_only)

    # ---- lifetime (the show's thread) ---------------------------------------------------------------------

    def start(self) -> None:
        self._http.start()
        self._http.run(self._make_event()).result(timeout=5)
        self.show.on("/", self.listening.on_change)
        self._encoder = threading.Thread(target=self._encode_forever, name="web pictures", daemon=True)
        self._encoder.start()

    def stop(self) -> None:
        self.handoff.close()
        if self._encoder is not None:
            self._encoder.join(timeout=5)
        if self._http.address is not None:
            self._http.run(self.listening.close_all()).result(timeout=5)
            self._http.run(self.webrtc.close_all()).result(timeout=5)
        self._http.stop()

    @property
    def wants_frames(self) -> bool:
        return bool(self.viewers or self.webrtc.watching)

    @property
    def samplerate(self) -> int:
        return self.webrtc.samplerate

    @samplerate.setter
    def samplerate(self, rate: int) -> None:
        """The mix's own rate (the sound card's), set before the audio tap starts."""
        self.webrtc.samplerate = rate

    def frame(self, surface, now: float) -> None:
        """The frame just drawn (frame loop): copied for the picture while someone watches, at picture_fps."""
        if self.wants_frames and now >= self._next_offer:
            self._next_offer = now + 1.0 / self.settings.picture_fps
            # Every step-th pixel is all a picture_width preview needs: a quarter of the copy at 2.
            self.handoff.offer(surface, now, step=max(1, surface.get_width() // self.settings.picture_width))

    def audio(self, block, frame_index: int) -> None:
        """An audio tap: the mix for the WebRTC viewers (their tracks keep at most half a second)."""
        if self.webrtc.watching:
            self._http.call(self.webrtc.sound, np.array(block, np.float32))

    # ---- the encoder's thread -----------------------------------------------------------------------------

    def _encode_forever(self) -> None:
        while not self.handoff.closed:
            taken = self.handoff.take(timeout=0.5)
            if taken is None:
                continue
            frame, _ = taken
            try:
                image = self._scaled(frame)
                if self.viewers:
                    self._http.call(self._publish, self._jpeg(image))
                if self.webrtc.watching:
                    self._http.call(self.webrtc.picture, np.asarray(image))
            except Exception as e:  # a picture lost, never the thread
                log.warning("web picture not encoded: %s: %s", type(e).__name__, e)
            finally:
                self.handoff.release(frame)

    def _scaled(self, frame) -> Image.Image:
        """The frame at picture_width, even sides (video codecs take 4:2:0)."""
        height, width, _ = frame.shape
        image = Image.frombuffer("RGB", (width, height), frame, "raw", self.handoff.order, 0, 1)
        target = min(self.settings.picture_width, width) & ~1
        size = (max(2, target), max(2, round(height * target / width) & ~1))
        return image if size == image.size else image.resize(size, Image.BILINEAR, reducing_gap=2.0)

    def _jpeg(self, image: Image.Image) -> bytes:
        out = io.BytesIO()
        image.save(out, "JPEG", quality=self.settings.picture_quality)
        return out.getvalue()

    # ---- the server's loop --------------------------------------------------------------------------------

    async def _make_event(self) -> None:
        self._picture_event = asyncio.Event()

    def _publish(self, jpeg: bytes) -> None:
        self.jpeg = jpeg
        self._jpeg_index += 1
        self.stats["pictures"] += 1
        event, self._picture_event = self._picture_event, asyncio.Event()
        event.set()

    async def _next_picture(self, after: int, timeout: float) -> bool:
        """Wait until a picture newer than `after` is there; False after `timeout`."""
        deadline = time.monotonic() + timeout
        while self._jpeg_index <= after:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._picture_event.wait(), remaining)
            except asyncio.TimeoutError:
                return False
        return True

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def _tree(self, request: web.Request) -> web.StreamResponse:
        root = show_tree(self.show)
        controls = self.show.controls()
        for address, control in controls.items():
            if not self.writable(control):
                node = find(root, address)
                node["ACCESS"] = ACCESS["r"] if "VALUE" in node else 0  # an action the web may not fire: none
        return web.json_response(root, headers={"Cache-Control": "no-store"})

    async def _offer(self, request: web.Request) -> web.StreamResponse:
        return await self.webrtc.answer(request)

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        return await self.listening.handle(request)

    async def _still(self, request: web.Request) -> web.StreamResponse:
        self.viewers += 1
        try:
            await self._next_picture(self._jpeg_index, timeout=2.0)
        finally:
            self.viewers -= 1
        if self.jpeg is None:
            return web.json_response({"error": "no picture yet (is the show drawing frames?)"}, status=503)
        return web.Response(body=self.jpeg, content_type="image/jpeg", headers={"Cache-Control": "no-store"})

    async def _mjpeg(self, request: web.Request) -> web.StreamResponse:
        if self.viewers >= MAX_VIEWERS:
            self.stats["viewers_refused"] += 1
            return web.json_response({"error": f"too many picture viewers (at most {MAX_VIEWERS})"}, status=503)
        response = web.StreamResponse(headers={
            "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}", "Cache-Control": "no-store"})
        await response.prepare(request)
        self.viewers += 1
        try:
            seen = 0
            while True:
                if not await self._next_picture(seen, timeout=1.0):
                    if request.transport is None or request.transport.is_closing():
                        break  # the viewer went while no picture came
                    continue
                seen, jpeg = self._jpeg_index, self.jpeg
                await response.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}"
                                     f"\r\n\r\n".encode() + jpeg + b"\r\n")
        except (ConnectionError, asyncio.CancelledError):
            log.debug("picture viewer %s gone", request.remote)
        finally:
            self.viewers -= 1
        return response
