"""OSCQuery's WebSocket part with a real WebSocket client (aiohttp's): LISTEN/IGNORE, OSC binary frames, the
guards at the door (allowlist, Host header), bounds, and clients that vanish mid-stream."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct

import aiohttp
import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import build_msg

from control_helpers import control_config, running_show, wait_for
from engine.control.listen import MAX_SOCKETS
from engine.control.osc import OscServer
from engine.control.oscquery import OscQueryServer


@pytest.fixture
def served(tmp_path):
    yield from _serve(control_config(tmp_path))


def _serve(config):
    with running_show(config) as show:
        osc = OscServer(config.osc, show)
        osc.start()
        query = OscQueryServer(config, show, osc_port=osc.address[1])
        query.start()
        try:
            yield config, show, query
        finally:
            query.stop()
            osc.stop()


def send_osc(config, address: str, *args) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(build_msg(address, list(args)).dgram, ("127.0.0.1", config.osc.port))


def url(config, path: str = "/") -> str:
    return f"http://127.0.0.1:{config.oscquery.port}{path}"


async def next_message(ws, timeout: float = 5.0) -> tuple[str, list]:
    message = await ws.receive(timeout=timeout)
    assert message.type == aiohttp.WSMsgType.BINARY, message
    osc = OscMessage(message.data)
    return osc.address, osc.params


async def nothing_arrives(ws, seconds: float = 0.5) -> None:
    with pytest.raises(asyncio.TimeoutError):
        await ws.receive(timeout=seconds)


def test_host_info_announces_listen(served):
    config, show, query = served

    async def go():
        async with aiohttp.ClientSession() as session:
            async with session.get(url(config, "/?HOST_INFO")) as response:
                return response.status, await response.json()

    status, info = asyncio.run(go())
    assert status == 200 and info["EXTENSIONS"]["LISTEN"] is True


def test_listen_streams_changes_as_osc_and_ignore_stops_them(served):
    config, show, query = served

    async def go():
        async with aiohttp.ClientSession() as session, session.ws_connect(url(config)) as ws:
            for path in ("/audio/master", "/visual/freeze", "/visual/black"):
                await ws.send_json({"COMMAND": "LISTEN", "DATA": path})
            assert wait_for(lambda: len(query.listening._wanted) == 3)
            send_osc(config, "/audio/master", 1.25)
            assert await next_message(ws) == ("/audio/master", [1.25])
            send_osc(config, "/visual/hold", 12.0)   # not listened: nothing comes
            send_osc(config, "/visual/freeze", 1)
            assert await next_message(ws) == ("/visual/freeze", [True])  # the tree's TYPE T: OSC T/F
            await ws.send_json({"COMMAND": "IGNORE", "DATA": "/audio/master"})
            assert wait_for(lambda: "/audio/master" not in query.listening._wanted)
            send_osc(config, "/audio/master", 0.5)
            send_osc(config, "/visual/black", 0.25)
            assert await next_message(ws) == ("/visual/black", [0.25])  # the ignored change never came
            await nothing_arrives(ws)
            assert show.values()["/audio/master"] == 0.5

    asyncio.run(go())


def test_two_clients_each_get_what_they_listen_to(served):
    config, show, query = served

    async def go():
        async with aiohttp.ClientSession() as session, session.ws_connect(url(config)) as a, \
                session.ws_connect(url(config, "/audio")) as b:
            await a.send_json({"COMMAND": "LISTEN", "DATA": "/audio/master"})
            await b.send_json({"COMMAND": "LISTEN", "DATA": "/audio/master"})
            await b.send_json({"COMMAND": "LISTEN", "DATA": "/audio/layer/birds/gain"})
            assert wait_for(lambda: len(query.listening._wanted) == 2)
            send_osc(config, "/audio/layer/birds/gain", 1.5)
            send_osc(config, "/audio/master", 0.25)
            assert await next_message(a) == ("/audio/master", [0.25])
            got = [await next_message(b), await next_message(b)]
            assert {(address, tuple(args)) for address, args in got} == {
                ("/audio/master", (0.25,)), ("/audio/layer/birds/gain", (1.5,))}
            await nothing_arrives(a, 0.3)

    asyncio.run(go())


def test_oscquery_websocket_changes_nothing_and_survives_junk(served):
    config, show, query = served
    before = show.values()["/audio/master"]

    async def go():
        async with aiohttp.ClientSession() as session, session.ws_connect(url(config)) as ws:
            await ws.send_bytes(build_msg("/audio/master", [1.75]).dgram)  # OSCQuery is read-only
            await ws.send_bytes(b"\x00garbage that is not OSC")
            for junk in ("not json", '{"COMMAND": "LISTEN"}', '{"COMMAND": "EXPLODE", "DATA": "/a"}', "[1, 2]",
                         '{"COMMAND": "LISTEN", "DATA": 5}'):
                await ws.send_str(junk)
            await ws.send_json({"COMMAND": "LISTEN", "DATA": "/audio/master"})
            assert wait_for(lambda: query.listening._wanted == {"/audio/master"})
            send_osc(config, "/audio/master", 0.5)
            assert await next_message(ws) == ("/audio/master", [0.5])

    asyncio.run(go())
    stats = query.listening.stats
    assert stats["dropped_read_only"] == 1 and stats["dropped_bad"] == 6 and stats["forwarded"] == 0
    assert before != 1.75


def test_sockets_are_bounded(served):
    config, show, query = served

    async def go():
        async with aiohttp.ClientSession() as session:
            sockets = [await session.ws_connect(url(config)) for _ in range(MAX_SOCKETS)]
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(url(config))
            assert refused.value.status == 503
            await sockets[0].close()
            assert wait_for(lambda: len(query.listening._clients) == MAX_SOCKETS - 1)
            sockets[0] = await session.ws_connect(url(config))  # room again
            for ws in sockets:
                await ws.close()

    asyncio.run(go())


def test_host_and_origin_headers_from_other_names_are_refused(served):
    config, show, query = served

    async def go():
        async with aiohttp.ClientSession() as session:
            async def status(headers):
                async with session.get(url(config, "/audio/master?VALUE"), headers=headers) as response:
                    return response.status
            assert await status({"Host": f"localhost:{config.oscquery.port}"}) == 200
            assert await status({"Host": f"127.0.0.1:{config.oscquery.port}"}) == 200
            assert await status({"Host": f"attacker.example:{config.oscquery.port}"}) == 403  # DNS rebinding
            assert await status({"Origin": "http://attacker.example"}) == 403
            assert await status({"Origin": "null"}) == 403  # a sandboxed frame or a file
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(url(config), headers={"Origin": "http://attacker.example"})
            assert refused.value.status == 403

    asyncio.run(go())
    assert query._http.refused["wrong_host"] == 4


def test_peers_outside_the_allowlist_are_refused(tmp_path):
    config = control_config(tmp_path, osc={"allow": ["10.0.0.0/8"]})
    for config, show, query in _serve(config):
        async def go():
            async with aiohttp.ClientSession() as session, session.get(url(config, "/")) as response:
                return response.status
        assert asyncio.run(go()) == 403
        assert query._http.refused["not_allowed"] == 1


def test_clients_that_vanish_mid_stream_cost_nothing(served, caplog):
    config, show, query = served
    caplog.set_level(logging.DEBUG)
    for _ in range(5):
        # A raw WebSocket handshake, a LISTEN, then the connection reset (RST) while changes stream.
        s = socket.create_connection(("127.0.0.1", config.oscquery.port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        assert b"101" in s.recv(4096).split(b"\r\n")[0]
        payload = b'{"COMMAND": "LISTEN", "DATA": "/audio/master"}'
        mask = b"\x01\x02\x03\x04"
        s.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        assert wait_for(lambda: "/audio/master" in query.listening._wanted)
        for value in (0.1, 0.2, 0.3):
            send_osc(config, "/audio/master", value)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        assert wait_for(lambda: not query.listening._clients)
    send_osc(config, "/audio/master", 0.75)
    assert wait_for(lambda: show.values()["/audio/master"] == 0.75)

    async def still_answers():
        async with aiohttp.ClientSession() as session, session.get(url(config, "/audio/master?VALUE")) as r:
            return await r.json()

    assert asyncio.run(still_answers()) == {"VALUE": [0.75]}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]


def test_names_in_osc_hostnames_are_answered(tmp_path):
    config = control_config(tmp_path, osc={"hostnames": ["Show.Example.org"]})
    for config, show, query in _serve(config):
        async def go():
            async with aiohttp.ClientSession() as session:
                statuses = []
                for name in ("show.example.org", "other.example.org"):
                    headers = {"Host": f"{name}:{config.oscquery.port}"}
                    async with session.get(url(config, "/?HOST_INFO"), headers=headers) as response:
                        statuses.append(response.status)
                return statuses
        assert asyncio.run(go()) == [200, 403]
