"""Run inside a private network namespace by tests/test_webrtc.py (loopback has a second address there: aioice
leaves 127.0.0.1 out of its candidates): a show with the web face, frames of a known colour and a 440 Hz tone
as its mix; a real headless Chromium opens the page, a click on "sound" starts WebRTC, and the page's video
and sound are measured. Prints one JSON line."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pygame  # noqa: E402

from browser import chromium  # noqa: E402
from control_helpers import control_config, free_port, running_show  # noqa: E402
from engine.control.web import WebFace  # noqa: E402

COLOUR, RATE, BLOCK = (40, 160, 90), 48000, 480

LEVEL = """(async () => {
  const video = document.getElementById('video');
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  context.createMediaStreamSource(video.srcObject).connect(analyser);
  await new Promise((r) => setTimeout(r, 1500));
  const data = new Float32Array(analyser.fftSize);
  analyser.getFloatTimeDomainData(data);
  return Math.max(...data.map(Math.abs));
})()"""
CENTRE = """(() => {
  const video = document.getElementById('video');
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  const g = canvas.getContext('2d'); g.drawImage(video, 0, 0);
  return Array.from(g.getImageData(canvas.width / 2, canvas.height / 2, 1, 1).data.slice(0, 3));
})()"""


def main() -> None:
    config = control_config(Path(tempfile.mkdtemp()))
    config = dataclasses.replace(config, web=dataclasses.replace(
        config.web, enabled=True, port=free_port(socket.SOCK_STREAM), picture_width=320))
    pygame.display.init()
    surface = pygame.display.set_mode((640, 360))
    surface.fill(COLOUR)
    result: dict = {}
    with running_show(config) as show:
        face = WebFace(config, show)
        face.start()

        async def scenario():
            async with chromium(flags=("--autoplay-policy=no-user-gesture-required",
                                       "--disable-features=WebRtcHideLocalIpsWithMdns",
                                       "--allow-loopback-in-peer-connection")) as page:
                await page.call("Page.navigate", url=f"http://127.0.0.1:{face.address[1]}/")
                await page.wait_for("document.body && document.body.dataset.ready === '1'")
                rect = await page.evaluate("(() => { const r = document.getElementById('listen')"
                                           ".getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()")
                await page.click(rect[0] + rect[2] / 2, rect[1] + rect[3] / 2)
                await page.wait_for("document.body.dataset.webrtc === 'playing'", timeout=30)
                started = time.monotonic()
                first = await page.evaluate("document.getElementById('video').currentTime")
                result["size"] = await page.evaluate(
                    "[document.getElementById('video').videoWidth, document.getElementById('video').videoHeight]")
                result["level"] = await page.evaluate(LEVEL)
                result["played"] = await page.evaluate("document.getElementById('video').currentTime") - first
                result["wall"] = time.monotonic() - started
                result["centre"] = await page.evaluate(CENTRE)
                result["mjpeg_hidden"] = await page.evaluate("document.getElementById('picture').hidden")

        failure = []

        def run():
            try:
                asyncio.run(scenario())
            except BaseException as e:  # noqa: BLE001
                failure.append(repr(e))

        thread = threading.Thread(target=run)
        thread.start()
        sent, start = 0, time.monotonic()
        while thread.is_alive():  # the show: frames at 30 fps, the mix in real time
            now = time.monotonic()
            face.frame(surface, now)
            while sent < (now - start) * RATE:
                t = (sent + np.arange(BLOCK)) / RATE
                tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
                face.audio(np.stack([tone, tone], axis=1), sent)
                sent += BLOCK
            time.sleep(1 / 30)
        thread.join()
        result["failure"] = failure[0] if failure else None
        result["stats"] = face.webrtc.stats
        face.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
