"""OSC over UDP: python-osc's asyncio server on its own thread, with feedback to the controllers.

Every message becomes a Command for the Show (data flows one way); what the Show applies comes back through a
listener and is sent to every controller that has talked to us (or to the configured feedback address), so
a layout's faders follow changes made elsewhere. Nothing a packet contains can stop the server: unknown
addresses, wrong arguments, packets from outside the allowlist and undecodable datagrams are dropped, counted
in `stats` and logged at most every few seconds.

Why the asyncio server: python-osc's threading server (a thread per datagram) lost 70-75 % of each
1000-message burst on loopback here; the asyncio one, reading in one loop, lost none (bench/control.py).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import threading
import time
from collections import OrderedDict
from typing import Any

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_message_builder import build_msg
from pythonosc.osc_packet import OscPacket
from pythonosc.osc_server import AsyncIOOSCUDPServer
from pythonosc.parsing import osc_types

from engine.control.pattern import PatternError, matching
from engine.control.allow import allowed, networks
from engine.settings.config import OscSettings
from engine.show.controls import Command, CommandError, coerce, covered
from engine.errors import UserError, cannot_listen
from engine.logs import RateLimitedLog

log = logging.getLogger(__name__)

MAX_CLIENTS = 16           # controllers remembered for feedback (the most recent ones)
FORGET_AFTER = 600.0       # seconds: a controller silent this long gets no more feedback
MAX_DATAGRAM = 8192        # bytes: a controller's bundle is far smaller; bounds the parse of one packet
MAX_MESSAGES = 64          # messages in one packet (bundles included)
MAX_PATTERNS = 16          # of which address patterns (each is matched against every address)
DUTY = 0.25, 0.1           # the OSC thread works at most 25 % of each 0.1 s (the GIL is the frame loop's too)
RECEIVE_BUFFER = 4 << 20   # bytes the kernel may queue for us: a burst waits there, not on the floor
KNOWN_TAGS = set("ihfdsbrmtTFN[]")
PATTERN_CHARACTERS = set("*?[]{}")  # OSC address pattern syntax  # the type tags python-osc decodes
STAT_KEYS = ("received", "forwarded", "dropped_unknown", "dropped_bad_args", "dropped_malformed",
             "dropped_not_allowed", "dropped_too_large", "dropped_denied", "handler_errors", "feedback_sent", "feedback_errors",
             "paced")


class _ShowDispatcher(Dispatcher):
    """python-osc's dispatcher, made unbreakable: it decodes a datagram itself (so nothing it contains can
    raise into the event loop, and undecodable ones are counted) and ignores bundle time tags (a message is
    applied at the next frame; a time tag far in the future would otherwise stall the loop in a sleep)."""

    def __init__(self, server: OscServer):
        super().__init__(strict_timing=False)
        self.server = server

    def call_handlers_for_packet(self, data: bytes, client_address: tuple) -> list:
        started = time.perf_counter()
        try:
            self._handle(data, client_address)
        finally:
            self.server.pace(time.perf_counter() - started)
        return []

    def _handle(self, data: bytes, client_address: tuple) -> None:
        server = self.server
        if not server.allowed(client_address[0]):
            server.count("dropped_not_allowed", "OSC from %s dropped: not in osc.allow", client_address[0])
            return
        if len(data) > MAX_DATAGRAM:
            server.count("dropped_too_large", "OSC datagram from %s dropped: %d bytes (at most %d)",
                         client_address[0], len(data), MAX_DATAGRAM)
            return
        try:
            messages = [timed.message for timed in OscPacket(data).messages]  # bundles in bundles unpacked
        except Exception as e:  # ParseError, and whatever else a hostile datagram provokes in the parser
            server.count("dropped_malformed", "undecodable OSC datagram from %s (%d bytes): %s",
                         client_address[0], len(data), f"{type(e).__name__}: {e}"[:200])
            return
        patterns = sum(1 for m in messages if PATTERN_CHARACTERS.intersection(str(m.address)))
        if len(messages) > MAX_MESSAGES or patterns > MAX_PATTERNS:
            server.count("dropped_too_large", "OSC packet from %s dropped: %d messages, %d of them patterns "
                         "(at most %d and %d)", client_address[0], len(messages), patterns, MAX_MESSAGES,
                         MAX_PATTERNS)
            return
        for message in messages:
            try:
                if not _well_formed(message):
                    server.count("dropped_malformed", "OSC %s from %s dropped: unknown type tag or cut short",
                                 str(message.address)[:80], client_address[0])
                    continue
                # Nothing is mapped (the address table changes with the scene), so every message goes to the
                # default handler; matching it against an empty map would compile a regex from the sender's
                # address for nothing (and warn about odd ones).
                self._default_handler.invoke(client_address, message)
            except Exception as e:  # a bug here must cost one message, never the server
                server.count("handler_errors", "OSC %s from %s failed: %s", str(message.address)[:80],
                             client_address[0], f"{type(e).__name__}: {e}")

    async def async_call_handlers_for_packet(self, data: bytes, client_address: tuple) -> list:
        return self.call_handlers_for_packet(data, client_address)  # the same path, whichever python-osc calls


class OscServer:
    """Listens on settings.host:port; `start()` binds (UserError if it cannot), `stop()` ends the thread."""

    def __init__(self, settings: OscSettings, show):
        self.settings, self.show = settings, show
        self.stats: dict[str, int] = dict.fromkeys(STAT_KEYS, 0)
        self.address: tuple[str, int] | None = None  # where we listen, once started
        self._allow = networks(settings.allow)
        family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET  # what our socket can send to
        self._feedback_host = _resolve(settings.feedback_host, family) if settings.feedback_host else ""
        # Feedback targets, the one heard from longest ago first: when each was last heard from (monotonic).
        self._clients: OrderedDict[tuple[str, int], float] = OrderedDict()
        self._clients_lock = threading.Lock()
        if settings.feedback_host and settings.feedback_port:
            self._clients[(self._feedback_host, settings.feedback_port)] = float("inf")  # configured: kept
        for i, entry in enumerate(settings.deny):
            if not isinstance(entry, str) or not entry.startswith("/"):
                raise UserError(f"osc.deny[{i}]: expected an address like '/show/quit' (or '/record/' for all "
                                f"under it), found {entry!r}")
        self._logs: dict[str, RateLimitedLog] = {}
        self._window = (0.0, 0.0)  # (start, seconds worked) of the current pacing window
        self._dispatcher = _ShowDispatcher(self)
        self._dispatcher.set_default_handler(self._on_message, needs_reply_address=True)
        self._loop = asyncio.new_event_loop()
        self._transport: asyncio.DatagramTransport | None = None
        self._thread: threading.Thread | None = None

    # ---- lifetime (the caller's thread) -----------------------------------------------------------

    def start(self) -> None:
        server = AsyncIOOSCUDPServer((self.settings.host, self.settings.port), self._dispatcher, self._loop)
        try:
            self._transport, _ = self._loop.run_until_complete(server.create_serve_endpoint())
        except (OSError, socket.gaierror) as e:
            self._loop.close()
            raise cannot_listen("osc.port", self.settings.host, self.settings.port, e) from None
        sock = self._transport.get_extra_info("socket")
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        except OSError:
            pass  # the kernel's default then; only bursts would notice
        self.address = sock.getsockname()[:2]
        logging.getLogger().addFilter(_QUIET_PYTHON_OSC)  # idempotent: one filter object
        self.show.on("/", self._on_change)
        self._thread = threading.Thread(target=self._loop.run_forever, name="osc", daemon=True)
        self._thread.start()
        log.info("OSC listening on %s:%d (UDP)", *self.address)

    def stop(self) -> None:
        if self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._transport.close()
        self._loop.run_until_complete(asyncio.sleep(0))  # let the transport finish closing its socket
        self._loop.close()
        self._thread = None
        log.info("OSC stopped: %s", ", ".join(f"{k} {v}" for k, v in self.stats.items() if v))

    # ---- the OSC thread ---------------------------------------------------------------------------

    def allowed(self, host: str) -> bool:
        return allowed(host, self._allow)

    def count(self, stat: str, message: str, *args) -> None:
        self.stats[stat] += 1
        if stat not in self._logs:
            self._logs[stat] = RateLimitedLog(log)
        self._logs[stat].warning(message, *args)

    def pace(self, seconds: float) -> None:
        """Count `seconds` of work; past the duty share of this window, sleep to its end. A flood then waits
        in the kernel's buffer instead of holding the GIL the frame loop needs."""
        share, length = DUTY
        now = time.perf_counter()
        start, worked = self._window
        if now - start >= length:
            start, worked = now, 0.0
        worked += seconds
        if worked > share * length:
            self.stats["paced"] += 1
            time.sleep(max(0.0, start + length - now))
            start, worked = time.perf_counter(), 0.0
        self._window = (start, worked)

    def _on_message(self, client_address: tuple, address: str, *args: Any) -> None:
        self.stats["received"] += 1
        controls = self.show.controls()
        if PATTERN_CHARACTERS.intersection(address):
            # A pattern sets values; it never fires an action or a command (/show/quit, /record/start,
            # /scene/load...): '/*/*' must not end the show. Those are named exactly.
            try:
                targets = [a for a in matching(address, tuple(controls)) if controls[a].access == "rw"]
            except PatternError as e:
                self.count("dropped_malformed", "OSC %s from %s dropped: %s", address[:80], client_address[0], e)
                return
        else:
            targets = [address] if address in controls else []
            if targets and covered(address, self.settings.deny):
                self.count("dropped_denied", "OSC %s from %s dropped: osc.deny keeps it off the network",
                           address[:80], client_address[0])
                return
        targets = [t for t in targets if not covered(t, self.settings.deny)]
        if not targets:
            self.count("dropped_unknown", "OSC %s from %s dropped: unknown address (see docs/control.md)",
                       address[:80], client_address[0])
            return
        accepted, problems = [], []
        for target in targets:  # a pattern applies where the arguments fit (/record/* 1 skips /record/active)
            try:
                coerce(controls[target], args)
                accepted.append(target)
            except CommandError as e:
                problems.append(str(e))
        if not accepted:
            self.count("dropped_bad_args", "OSC from %s dropped: %s", client_address[0], problems[0][:200])
            return
        sender = (client_address[0], client_address[1])
        self._remember(sender)
        for target in accepted:
            self.show.submit(Command(target, args, source=f"osc {sender[0]}:{sender[1]}"))
            self.stats["forwarded"] += 1

    def _remember(self, sender: tuple[str, int]) -> None:
        target = (self._feedback_host or sender[0], self.settings.feedback_port or sender[1])
        with self._clients_lock:
            self._clients[target] = max(time.monotonic(), self._clients.get(target, 0.0))
            self._clients.move_to_end(target)
            while len(self._clients) > MAX_CLIENTS:
                self._clients.popitem(last=False)

    def _send(self, targets: list[tuple[str, int]], address: str, value: Any) -> None:
        try:
            datagram = build_msg(address, [int(value) if isinstance(value, bool) else value]).dgram
        except Exception as e:
            self.count("feedback_errors", "feedback %s not encodable: %s", address, e)
            return
        for target in targets:
            try:
                self._transport.sendto(datagram, target)
                self.stats["feedback_sent"] += 1
            except (OSError, ValueError) as e:
                self.count("feedback_errors", "feedback to %s failed: %s", target, e)

    # ---- the main thread (a Show listener) --------------------------------------------------------

    def _on_change(self, address: str, value: Any, source: str) -> None:
        """Every applied change (and each value a /state asks for) goes to every known controller."""
        if value is None or self._thread is None:
            return
        control = self.show.controls().get(address)
        if control is not None and control.access == "w":
            return  # a command (/scene/load, /midi/learn), not a value a layout could show
        now = time.monotonic()
        with self._clients_lock:
            for target in [t for t, heard in self._clients.items() if now - heard > FORGET_AFTER]:
                del self._clients[target]
            targets = list(self._clients)
        if targets:
            self._loop.call_soon_threadsafe(self._send, targets, address, value)


def _well_formed(message) -> bool:
    """What python-osc's lenient parser lets through but OSC 1.0 says to discard:
    - a type tag it does not know (it skips the tag and reads on, so ',fx' arrives as one float);
    - a one-value message shorter than its value needs (it pads a float cut short, for Reaktor, so a
      truncated fader message would set a wrong value: 1.5 cut by two bytes reads 1.5, by four 0.0)."""
    _, index = osc_types.get_string(message.dgram, 0)
    if index < message.size and not set(osc_types.get_string(message.dgram, index)[0][1:]) <= KNOWN_TAGS:
        return False
    params = message.params
    if len(params) != 1 or not isinstance(params[0], (int, float, str)):
        return True
    try:
        return len(build_msg(message.address, params).dgram) <= message.size
    except (OverflowError, ValueError, struct.error):  # a double beyond float32 was not cut short
        return True


class _QuietPythonOsc(logging.Filter):
    """python-osc logs every odd datagram on the root logger, unthrottled; we count and log them ourselves."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pythonosc" not in record.pathname


_QUIET_PYTHON_OSC = _QuietPythonOsc()


def _resolve(host: str, family: int) -> str:
    """A feedback host name turned into an address once, at start (not a DNS lookup per message)."""
    try:
        return socket.getaddrinfo(host, None, family=family, type=socket.SOCK_DGRAM)[0][4][0]
    except (OSError, UnicodeError) as e:
        raise UserError(f"osc.feedback_host: expected a host name or address that resolves, found {host!r} "
                        f"({e})") from None
