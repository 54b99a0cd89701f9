"""OSCQuery's WebSocket part: LISTEN and IGNORE, with every change streamed as an OSC binary frame.

A client sends `{"COMMAND": "LISTEN", "DATA": "/audio/master"}` (text frame) and from then on receives each
change of that value as an OSC message in a binary frame, until `{"COMMAND": "IGNORE", "DATA": ...}` or it
goes. Where `writable` allows, a client may also send OSC messages in binary frames: each becomes a Command
for the Show, checked like one from OSC over UDP (the web face's controls do this).

Bounded whatever clients do: at most MAX_SOCKETS sockets and MAX_PATHS listened paths a socket; a slow
reader never holds the show or the other clients: its unsent changes are kept as the latest value per
address (so it catches up with the current state, not a backlog), and the Show's listener only hands the
change to the server's loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Callable

from aiohttp import WSMsgType, web
from pythonosc.osc_message_builder import build_msg
from pythonosc.osc_packet import OscPacket

from engine.logs import RateLimitedLog
from engine.show.controls import Command, CommandError, Control, coerce

log = logging.getLogger(__name__)

MAX_SOCKETS = 32
MAX_PATHS = 512      # more than the address table holds
MAX_FRAME = 64 << 10  # bytes: a LISTEN or an OSC message is tiny
STAT_KEYS = ("sockets", "refused_sockets", "sent", "coalesced", "forwarded", "dropped_bad", "dropped_read_only")


def osc_frame(address: str, value: Any) -> bytes:
    """One change as an OSC message: floats f, ints i, strings s, on/off T/F (the tree's TYPE)."""
    return build_msg(address, [value]).dgram


class _Client:
    def __init__(self, ws: web.WebSocketResponse, peer: str):
        self.ws, self.peer = ws, peer
        self.paths: set[str] = set()
        self.pending: dict[str, bytes] = {}  # address -> its latest unsent frame
        self.wake = asyncio.Event()


class Listening:
    """Serves LISTEN/IGNORE on WebSocket upgrades; `on_change` is the Show listener (main thread).

    `call(fn, *args)` runs fn on the server's loop (HttpServer.call); `writable(control)` says whether a
    client may set that control (never: OSCQuery; the web face: all but its read-only ones)."""

    def __init__(self, show, call: Callable, source: str, writable: Callable[[Control], bool] = lambda c: False):
        self.show, self.call, self.source, self.writable = show, call, source, writable
        self.stats = dict.fromkeys(STAT_KEYS, 0)
        self._clients: set[_Client] = set()
        self._wanted: frozenset[str] = frozenset()  # every listened address: read by the Show's thread
        self._logs: dict[str, RateLimitedLog] = {}

    # ---- the Show's thread --------------------------------------------------------------------------------

    def on_change(self, address: str, value: Any, source: str) -> None:
        if value is not None and address in self._wanted:
            self.call(self._publish, address, value)

    # ---- the server's loop --------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if len(self._clients) >= MAX_SOCKETS:
            self.stats["refused_sockets"] += 1
            return web.json_response({"error": f"too many WebSocket clients (at most {MAX_SOCKETS})"}, status=503)
        ws = web.WebSocketResponse(max_msg_size=MAX_FRAME, heartbeat=30.0)
        await ws.prepare(request)
        client = _Client(ws, request.remote or "?")
        self._clients.add(client)
        self.stats["sockets"] += 1
        writer = asyncio.ensure_future(self._write(client))
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._command(client, message.data)
                elif message.type == WSMsgType.BINARY:
                    self._osc(client, message.data)
        except (ConnectionError, asyncio.CancelledError) as e:
            log.debug("WebSocket %s gone: %s", client.peer, type(e).__name__)
        finally:
            self._clients.discard(client)
            self._update_wanted()
            writer.cancel()
        return ws

    async def close_all(self) -> None:
        for client in list(self._clients):
            await client.ws.close()

    def _publish(self, address: str, value: Any) -> None:
        frame = None
        for client in self._clients:
            if address in client.paths:
                frame = frame or osc_frame(address, value)
                if address in client.pending:
                    self.stats["coalesced"] += 1
                client.pending[address] = frame
                client.wake.set()

    async def _write(self, client: _Client) -> None:
        try:
            while not client.ws.closed:
                await client.wake.wait()
                client.wake.clear()
                pending, client.pending = client.pending, {}
                for frame in pending.values():
                    await client.ws.send_bytes(frame)
                    self.stats["sent"] += 1
        except (ConnectionError, RuntimeError) as e:  # the client went while we wrote
            log.debug("WebSocket %s: not sent: %s", client.peer, type(e).__name__)

    def _command(self, client: _Client, text: str) -> None:
        try:
            command = json.loads(text)
            name, path = command["COMMAND"], command["DATA"]
            if name not in ("LISTEN", "IGNORE") or not isinstance(path, str) or not path.startswith("/"):
                raise ValueError
        except (ValueError, TypeError, KeyError):
            return self._count("dropped_bad", "WebSocket %s: expected {\"COMMAND\": \"LISTEN\" or \"IGNORE\", "
                                              "\"DATA\": \"/an/address\"}, found %r", client.peer, text[:100])
        if name == "IGNORE":
            client.paths.discard(path)
        elif len(client.paths) >= MAX_PATHS:
            return self._count("dropped_bad", "WebSocket %s: LISTEN %s refused: %d paths already",
                               client.peer, path[:100], MAX_PATHS)
        else:
            client.paths.add(path)
        self._update_wanted()

    def _osc(self, client: _Client, data: bytes) -> None:
        try:
            messages = [timed.message for timed in OscPacket(data).messages]
        except Exception as e:  # whatever a hostile frame provokes in the parser
            return self._count("dropped_bad", "WebSocket %s: undecodable OSC (%d bytes): %s",
                               client.peer, len(data), f"{type(e).__name__}: {e}"[:200])
        controls = self.show.controls()
        for message in messages:
            control = controls.get(message.address)
            args = tuple(message.params)
            if control is None or not self.writable(control):
                stat = "dropped_bad" if control is None else "dropped_read_only"
                self._count(stat, "WebSocket %s: %s refused: %s", client.peer, str(message.address)[:100],
                            "unknown address" if control is None else f"not writable from {self.source}")
                continue
            try:
                coerce(control, args)
            except CommandError as e:
                self._count("dropped_bad", "WebSocket %s: %s", client.peer, str(e)[:200])
                continue
            self.show.submit(Command(control.address, args, source=f"{self.source} {client.peer}"))
            self.stats["forwarded"] += 1

    def _update_wanted(self) -> None:
        self._wanted = frozenset(path for client in self._clients for path in client.paths)

    def _count(self, stat: str, message: str, *args) -> None:
        self.stats[stat] += 1
        self._logs.setdefault(stat, RateLimitedLog(log)).warning(message, *args)
