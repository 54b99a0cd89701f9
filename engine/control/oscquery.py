"""OSCQuery (Vidvox's OSCQueryProposal): the address space as JSON over HTTP, so controllers discover it.

`GET /` answers the whole tree, `GET /audio/master` one node, `GET /audio/master?VALUE` one attribute, and
`GET /?HOST_INFO` where the OSC server listens. Everything is built from the Show's own address table and
values at the moment of the request, so what is served is what is accepted. Read-only: nothing here changes
the show.

Why the standard library's ThreadingHTTPServer: the answers are a few kilobytes of JSON to a handful of
controllers, GET only; an async web framework would be a dependency and a second event loop for nothing.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from engine.settings.config import Config
from engine.show.controls import Control
from engine.errors import UserError

log = logging.getLogger(__name__)

NAME = "Postcards from my Jungle"
ACCESS = {"r": 1, "w": 2, "rw": 3}  # the spec's numbers: 0 no value, 1 read, 2 write, 3 both
ATTRIBUTES = ("FULL_PATH", "CONTENTS", "TYPE", "VALUE", "RANGE", "ACCESS", "DESCRIPTION")
CONTAINERS = {"scene": "scenes: load, step, current", "visual": "the picture", "sampler": "the postcard sampler",
              "audio": "the sound", "layer": "the current scene's sound layers", "record": "recording",
              "midi": "MIDI", "display": "the window", "show": "the show itself"}


def _osc_type(control: Control) -> str:
    return {"f": "f", "i": "i", "s": "s", "b": "T", "": "N"}[control.kind]


def method_node(control: Control, values: dict[str, Any]) -> dict:
    node = {"FULL_PATH": control.address, "DESCRIPTION": control.description, "TYPE": _osc_type(control),
            "ACCESS": ACCESS[control.access]}
    if control.access != "w" and control.address in values:
        node["VALUE"] = [values[control.address]]
    if control.choices is not None:
        node["RANGE"] = [{"VALS": list(control.choices)}]
    elif control.low is not None or control.high is not None:
        node["RANGE"] = [{"MIN": control.low, "MAX": control.high}]
    return node


def tree(controls: dict[str, Control], values: dict[str, Any]) -> dict:
    """The whole address space: containers hold CONTENTS, methods their attributes."""
    root = {"FULL_PATH": "/", "DESCRIPTION": NAME, "ACCESS": 0, "CONTENTS": {}}
    for address in sorted(controls):
        node, path = root, ""
        *folders, leaf = address.strip("/").split("/")
        for name in folders:
            path += "/" + name
            node = node["CONTENTS"].setdefault(name, {
                "FULL_PATH": path, "DESCRIPTION": CONTAINERS.get(name, name), "ACCESS": 0, "CONTENTS": {}})
        node["CONTENTS"][leaf] = method_node(controls[address], values)
    return root


def find(root: dict, path: str) -> dict | None:
    node = root
    for name in filter(None, path.split("/")):
        node = node.get("CONTENTS", {}).get(name)
        if node is None:
            return None
    return node


class _Handler(BaseHTTPRequestHandler):
    server: OscQueryServer._HTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive: clients poll values
    timeout = 30  # seconds an idle or stalled connection may hold its thread

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        query_server = self.server.owner
        parts = urlsplit(self.path)
        path, attribute = unquote(parts.path), parts.query
        if attribute == "HOST_INFO":
            return self._json(HTTPStatus.OK, query_server.host_info())
        node = find(tree(query_server.show.controls(), query_server.show.values()), path)
        if node is None:
            return self._json(HTTPStatus.NOT_FOUND, {"error": f"no node at {path[:200]}"})
        if not attribute:
            return self._json(HTTPStatus.OK, node)
        if attribute not in ATTRIBUTES:
            return self._json(HTTPStatus.BAD_REQUEST, {"error": f"unknown attribute {attribute[:100]}; expected "
                                                       f"HOST_INFO or one of {', '.join(ATTRIBUTES)}"})
        if attribute not in node:
            return self._json(HTTPStatus.NO_CONTENT, None)  # the spec's answer for e.g. VALUE of a write-only
        return self._json(HTTPStatus.OK, {attribute: node[attribute]})

    def _json(self, status: HTTPStatus, body: Any) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's signature)
        log.debug("OSCQuery %s: " + format, self.address_string(), *args)


class OscQueryServer:
    """Serves the tree on the OSC interface (config.osc.host) at config.oscquery.port."""

    class _HTTPServer(ThreadingHTTPServer):
        daemon_threads = True
        owner: OscQueryServer

        def handle_error(self, request, client_address) -> None:
            log.warning("OSCQuery request from %s failed", client_address[0], exc_info=True)

    def __init__(self, config: Config, show, osc_port: int):
        self.config, self.show, self.osc_port = config, show, osc_port
        self.address: tuple[str, int] | None = None
        self._http: OscQueryServer._HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._zeroconf = None
        self.service_name: str | None = None  # the zeroconf name, once advertised

    def host_info(self) -> dict:
        info = {"NAME": NAME, "OSC_PORT": self.osc_port, "OSC_TRANSPORT": "UDP",
                "EXTENSIONS": {**{name: True for name in ATTRIBUTES if name not in ("FULL_PATH", "CONTENTS")},
                               "TAGS": False, "UNIT": False, "CLIPMODE": False, "CRITICAL": False,
                               "LISTEN": False, "PATH_CHANGED": False}}
        if self.config.osc.host not in ("0.0.0.0", "::"):  # without OSC_IP, clients use the HTTP server's address
            info["OSC_IP"] = self.config.osc.host
        return info

    def start(self) -> None:
        host, port = self.config.osc.host, self.config.oscquery.port
        server_class = self._HTTPServer
        if ":" in host:
            server_class = type("_HTTPServer6", (self._HTTPServer,), {"address_family": socket.AF_INET6})
        try:
            self._http = server_class((host, port), _Handler)
        except OSError as e:
            raise UserError(f"oscquery.port: cannot listen on {host}:{port}: {e.strerror or e}") from None
        self._http.owner = self
        self.address = self._http.server_address[:2]
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="oscquery", daemon=True)
        self._thread.start()
        log.info("OSCQuery on http://%s:%d/", *self.address)
        if self.config.oscquery.zeroconf:
            self._advertise()

    def stop(self) -> None:
        if self._zeroconf is not None:
            self._zeroconf.close()  # unregisters the service too
            self._zeroconf = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._thread.join(timeout=5)
            self._http = None

    def _advertise(self) -> None:
        """Announce _oscjson._tcp over zeroconf; the show runs on without it when it cannot."""
        try:
            from zeroconf import ServiceInfo, Zeroconf
        except ImportError:
            log.warning("oscquery.zeroconf: the zeroconf package is not installed (pip install zeroconf); "
                        "not advertised")
            return
        host, port = self.address
        wildcard = host in ("0.0.0.0", "::")
        name = f"{NAME} on {socket.gethostname()}"[:63]
        try:
            addresses = _lan_addresses() if wildcard else [host]
            info = ServiceInfo("_oscjson._tcp.local.", f"{name}._oscjson._tcp.local.", port=port,
                               parsed_addresses=addresses,
                               server=f"{socket.gethostname()}.local.", properties={})
            self._zeroconf = Zeroconf(interfaces=["0.0.0.0"] if wildcard else [host])
            self._zeroconf.register_service(info, allow_name_change=True)
            self.service_name = info.name
            log.info("OSCQuery advertised as %r (_oscjson._tcp)", info.name)
        except Exception as e:  # no multicast on this interface, name clash...: discovery is a convenience
            log.warning("oscquery.zeroconf: not advertised: %s: %s", type(e).__name__, e)
            if self._zeroconf is not None:
                self._zeroconf.close()
                self._zeroconf = None


def _lan_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback (for a server listening on every interface)."""
    try:
        found = socket.gethostbyname_ex(socket.gethostname())[2]
    except OSError:
        found = []
    return [a for a in found if not a.startswith("127.")] or ["127.0.0.1"]
