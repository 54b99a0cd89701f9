"""An aiohttp application served on its own thread and event loop, guarded at the door.

OSCQuery (engine/control/oscquery.py) and the web face (engine/control/web.py) are aiohttp applications; this
runs one on `host:port` and keeps out, before any handler runs:
- peers outside `[osc] allow` (the same allowlist as OSC): 403;
- requests whose Host (or Origin) header names a host we do not answer to: 403. A web page on another site
  can point its own DNS name at 127.0.0.1 ("DNS rebinding") and then read and drive a loopback server from
  the performer's browser; it cannot make the browser send our names in Host. We answer to IP literals,
  `localhost`, this machine's names (NAME, NAME.local, its FQDN), the configured host and `[osc] hostnames`.
A reset connection, a garbage request or a client gone mid-answer is logged as one debug line, never a
traceback: nothing a client does can stop the show.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import threading
from typing import Callable

from aiohttp import web

from engine.control.allow import allowed, networks
from engine.errors import cannot_listen

log = logging.getLogger(__name__)

def host_names(host: str, extra: list[str] = ()) -> frozenset[str]:
    """The names (besides IP literals) a Host header may carry for a server configured on `host`: localhost,
    this machine's names, the configured host and `extra` (`[osc] hostnames`)."""
    name = socket.gethostname().lower()
    return frozenset({"localhost", name, f"{name}.local", socket.getfqdn().lower(), host.lower(),
                      *(n.lower() for n in extra)})


def _hostname(value: str) -> str:
    """'example.org:9001' -> 'example.org', '[::1]:9001' -> '::1', 'http://a:1' -> 'a'."""
    value = value.split("://", 1)[-1].split("/", 1)[0].strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def answers_to(value: str, names: frozenset[str]) -> bool:
    name = _hostname(value)
    try:
        ipaddress.ip_address(name)
        return True  # an address typed by a person; DNS rebinding needs a name
    except ValueError:
        return name in names


class _QuietLog:
    """aiohttp's protocol logger: a client's broken request or reset connection is a debug line with no
    traceback (aiohttp would log garbage on the port with the whole stack, at ERROR)."""

    def __init__(self, logger: logging.Logger):
        self.logger = logger

    def _line(self, message: str, *args, exc_info=None, **_) -> None:
        reason = f": {type(exc_info).__name__}: {exc_info}"[:300] if isinstance(exc_info, BaseException) else ""
        self.logger.debug(message + reason, *args)

    debug = info = warning = error = exception = _line


class HttpServer:
    """Serves `app` on host:port from a thread of its own; `key` names the setting in errors."""

    def __init__(self, app: web.Application, host: str, port: int, *, allow: list[str], key: str, what: str,
                 hostnames: list[str] = ()):
        self.host, self.port, self.key, self.what = host, port, key, what
        self.address: tuple[str, int] | None = None
        self.loop = asyncio.new_event_loop()
        self._allow = networks(allow)
        self._names = host_names(host, hostnames)
        self.refused = {"not_allowed": 0, "wrong_host": 0}
        app.middlewares.append(self._guard)
        self._app = app
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.loop.run_forever, name=self.what, daemon=True)
        self._thread.start()
        try:
            self.run(self._open()).result(timeout=30)
        except OSError as e:
            self.stop()
            raise cannot_listen(self.key, self.host, self.port, e) from None
        except BaseException:
            self.stop()
            raise
        log.info("%s on http://%s:%d/", self.what, *self.address)

    def run(self, coroutine):
        """Run a coroutine on the server's loop from any thread (a concurrent Future)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def call(self, fn: Callable, *args) -> None:
        """Call `fn(*args)` on the server's loop from any thread, soon; never blocks."""
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(fn, *args)

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._runner is not None:
            try:
                self.run(self._runner.cleanup()).result(timeout=10)
            except Exception as e:  # closing must go on whatever a connection does
                log.warning("%s: closing: %s: %s", self.what, type(e).__name__, e)
            self._runner = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self._thread = None
        self.loop.close()

    async def _open(self) -> None:
        self._runner = web.AppRunner(self._app, handle_signals=False, access_log=None,
                                     logger=_QuietLog(log), shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        self.address = tuple(self._runner.addresses[0][:2])

    @web.middleware
    async def _guard(self, request: web.Request, handler):
        if not allowed(request.remote, self._allow):
            self.refused["not_allowed"] += 1
            return web.json_response({"error": f"{request.remote} is not in osc.allow"}, status=403)
        for header in ("Host", "Origin"):
            value = request.headers.get(header)
            if value is not None and not answers_to(value, self._names):
                self.refused["wrong_host"] += 1
                return web.json_response({"error": f"{header} {value[:100]!r} is not a name this show answers "
                                                   f"to (use its address, or localhost)"}, status=403)
        return await handler(request)
