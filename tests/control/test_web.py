"""The web face: a real show (tiny model, headless) drawing frames, served to aiohttp's client and to a real
headless Chromium: the page loads and shows the postcard, a fader moved in the page changes the show (read back
over OSCQuery), a value sent over OSC moves the fader, read-only controls stay out of the web's reach."""

from __future__ import annotations

import asyncio
import io
import socket
import threading
import time
from dataclasses import replace

import aiohttp
import pytest
from PIL import Image
from pythonosc.osc_message_builder import build_msg

from browser import chromium
from control_helpers import free_port, wait_for
from engine.perform.live import Live
from engine.settings.config import load_config
from conftest import write_config



@pytest.fixture
def show(tmp_path, tiny_model):
    osc_port, query_port = free_port(), free_port(socket.SOCK_STREAM)
    config = load_config(write_config(tmp_path, tiny_model, osc=f"enabled = true\nport = {osc_port}"))
    config = replace(config, display=replace(config.display, headless=True, size=(640, 360)),
                     oscquery=replace(config.oscquery, enabled=True, port=query_port),
                     web=replace(config.web, enabled=True, port=free_port(socket.SOCK_STREAM), picture_width=320,
                                 read_only=["/show/quit", "/midi/learn", "/record/"]))
    performance = Live(config, audio=False)
    performance.start()
    try:
        yield performance, performance.controllers.web
    finally:
        performance.stop()


def with_frames(performance, face, scenario) -> None:
    """Run `scenario()` (a coroutine function) on a thread of its own while this thread draws the show's
    frames (pygame wants the main thread; the performance hands each to the web face)."""
    failure = []

    def run():
        try:
            asyncio.run(scenario())
        except BaseException as e:  # noqa: BLE001 (re-raised on the test's thread)
            failure.append(e)

    thread = threading.Thread(target=run, name="scenario")
    thread.start()
    while thread.is_alive():
        performance.frame(time.monotonic())
        performance.present()
        time.sleep(1 / 30)
    thread.join()
    if failure:
        raise failure[0]


def base(face) -> str:
    return f"http://127.0.0.1:{face.address[1]}"


def osc(performance, address: str, *args) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(build_msg(address, list(args)).dgram, ("127.0.0.1", performance.config.osc.port))


def test_the_web_tree_marks_what_the_web_may_not_change(show):
    performance, face = show

    async def scenario():
        async with aiohttp.ClientSession() as session, session.get(base(face) + "/tree") as response:
            return await response.json()

    root = asyncio.run(scenario())
    contents = root["CONTENTS"]
    assert contents["show"]["CONTENTS"]["quit"]["ACCESS"] == 0          # read_only: an action, so no access
    assert contents["record"]["CONTENTS"]["active"]["ACCESS"] == 1      # read-only anyway
    assert contents["audio"]["CONTENTS"]["master"]["ACCESS"] == 3
    assert contents["scene"]["CONTENTS"]["load"]["RANGE"][0]["VALS"] == ["still", "tiny"]


def test_changes_over_the_websocket_reach_the_show_and_read_only_ones_do_not(show):
    performance, face = show

    async def scenario():
        async with aiohttp.ClientSession() as session, session.ws_connect(base(face) + "/ws") as ws, \
                session.ws_connect(base(face) + "/ws") as other:  # a second browser
            for client in (ws, other):
                await client.send_json({"COMMAND": "LISTEN", "DATA": "/visual/black"})
            assert wait_for(lambda: "/visual/black" in face.listening._wanted)
            await ws.send_bytes(build_msg("/visual/black", [0.5]).dgram)
            await ws.send_bytes(build_msg("/show/quit", []).dgram)      # read-only for the web
            await ws.send_bytes(build_msg("/record/start", []).dgram)   # under a read-only prefix
            for client in (ws, other):  # both stay in step with the show
                message = await client.receive(timeout=10)
                assert message.type == aiohttp.WSMsgType.BINARY and b"/visual/black" in message.data

    with_frames(performance, face, scenario)
    assert performance.show.values()["/visual/black"] == 0.5
    assert not performance.show.quit_requested and not performance.show.values()["/record/active"]
    assert face.listening.stats["dropped_read_only"] == 2 and face.listening.stats["forwarded"] == 1


def test_the_picture_comes_as_jpeg_and_mjpeg_and_only_while_watched(show):
    performance, face = show
    got = {}

    async def scenario():
        async with aiohttp.ClientSession() as session:
            async with session.get(base(face) + "/picture.jpg") as response:
                got["still"] = (response.status, response.content_type, await response.read())
            async with session.get(base(face) + "/picture.mjpg") as response:
                reader = aiohttp.MultipartReader.from_response(response)
                got["parts"] = [await (await reader.next()).read() for _ in range(3)]
            async with session.get(base(face) + "/static/../web.py") as response:
                got["outside"] = response.status

    with_frames(performance, face, scenario)
    status, kind, data = got["still"]
    assert status == 200 and kind == "image/jpeg"
    assert Image.open(io.BytesIO(data)).size == (320, 180)  # picture_width, the canvas's aspect
    assert all(Image.open(io.BytesIO(part)).format == "JPEG" for part in got["parts"])
    assert got["outside"] in (403, 404)
    offered = face.handoff.stats["offered"]
    assert wait_for(lambda: face.viewers == 0)
    for _ in range(10):
        performance.frame(time.monotonic())
        time.sleep(0.07)
    assert face.handoff.stats["offered"] == offered  # nobody watches: no copies


def test_a_real_browser_shows_the_postcard_and_steers_the_show(show, tmp_path):
    performance, face = show
    shots = {}

    async def scenario():
        async with chromium() as page:
            await page.call("Page.navigate", url=base(face) + "/")
            await page.wait_for("document.body && document.body.dataset.ready === '1'")
            assert wait_for(lambda: performance.sampler.stats["made"] >= 1, timeout=120)
            await page.wait_for("document.getElementById('picture').naturalWidth > 0")
            await asyncio.sleep(1.5)  # the postcard crossfades in
            shots["page"] = await page.screenshot(tmp_path / "page.png")
            shots["picture"] = await page.evaluate(
                "(() => { const r = document.getElementById('picture').getBoundingClientRect();"
                " return [r.left, r.top, r.width, r.height]; })()")
            # Read-only for the web: no button to end the show; the scene's name shown, not editable.
            assert await page.evaluate("document.querySelector('[data-address=\"/show/quit\"]') === null")
            assert await page.evaluate("document.querySelector('input[data-address=\"/scene/name\"]').readOnly")
            # A person clicks three quarters along the master fader (0..2).
            rect = await page.evaluate(
                "(() => { const r = document.querySelector('input[data-address=\"/audio/master\"]')"
                ".getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()")
            await page.click(rect[0] + rect[2] * 0.75, rect[1] + rect[3] / 2)
            async with aiohttp.ClientSession() as session:
                deadline = time.monotonic() + 10
                value = None
                while time.monotonic() < deadline:
                    url = f"http://127.0.0.1:{performance.config.oscquery.port}/audio/master?VALUE"
                    async with session.get(url) as response:
                        value = (await response.json())["VALUE"][0]
                    if abs(value - 1.5) < 0.1:
                        break
                    await asyncio.sleep(0.1)
                shots["read_back"] = value
            # And a toggle.
            await page.evaluate("document.querySelector('input[data-address=\"/visual/freeze\"]').click()")
            # A value sent over OSC moves the fader in the page.
            osc(performance, "/audio/master", 0.25)
            await page.wait_for("document.querySelector('input[data-address=\"/audio/master\"]').value === '0.25'")
            # A new scene brings other sound layers: the page rebuilds its controls, the picker shows the scene.
            assert await page.evaluate("!!document.querySelector('[data-address=\"/audio/layer/frogs/gain\"]')")
            osc(performance, "/scene/load", "still")
            await page.wait_for("document.querySelector('select[data-address=\"/scene/load\"]').value === 'still'"
                                " && !document.querySelector('[data-address=\"/audio/layer/frogs/gain\"]')")

    with_frames(performance, face, scenario)
    assert abs(shots["read_back"] - 1.5) < 0.1, shots["read_back"]
    assert wait_for(lambda: performance.show.values()["/visual/freeze"] is True)
    # The screenshot shows a picture where the postcard is: not one flat colour.
    image = Image.open(io.BytesIO(shots["page"])).convert("RGB")
    left, top, width, height = (int(v) for v in shots["picture"])
    picture = image.crop((left, top, left + width, top + height))
    colours = picture.getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 100, "the picture area is flat: no postcard"
