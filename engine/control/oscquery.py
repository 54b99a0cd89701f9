"""OSCQuery (Vidvox's OSCQueryProposal): the address space as JSON over HTTP, and its changes over WebSocket.

`GET /` answers the whole tree, `GET /audio/master` one node, `GET /audio/master?VALUE` one attribute, and
`GET /?HOST_INFO` where the OSC server listens. A WebSocket opened on the same port speaks LISTEN/IGNORE
(engine/control/listen.py): a listened value's changes arrive as OSC binary frames. Everything is built from
the Show's own address table and values at the moment of the request, so what is served is what is accepted.
Nothing here changes the show.

Served by aiohttp (engine/control/webserver.py) on a thread of its own: WebSockets need an event loop, and the
web face is served the same way.
"""

from __future__ import annotations

import logging
import socket
from http import HTTPStatus
from typing import Any

from aiohttp import web

from engine.control.listen import Listening
from engine.control.webserver import HttpServer
from engine.settings.config import Config
from engine.settings.scenes import scene_names
from engine.show.controls import Control

log = logging.getLogger(__name__)

NAME = "Postcards from my Jungle"
ACCESS = {"r": 1, "w": 2, "rw": 3}  # the spec's numbers: 0 no value, 1 read, 2 write, 3 both
ATTRIBUTES = ("FULL_PATH", "CONTENTS", "TYPE", "VALUE", "RANGE", "ACCESS", "DESCRIPTION")
CONTAINERS = {"scene": "scenes: load, step, current", "visual": "the picture", "sampler": "the postcard sampler",
              "audio": "the sound", "layer": "the current scene's sound layers", "record": "recording",
              "midi": "MIDI", "display": "the window", "show": "the show itself"}


def _osc_type(control: Control) -> str:
    return {"f": "f", "i": "i", "s": "s", "b": "T", "": "N"}[control.kind]


def method_node(control: Control, values: dict[str, Any], choices: tuple[str, ...] | None = None) -> dict:
    node = {"FULL_PATH": control.address, "DESCRIPTION": control.description, "TYPE": _osc_type(control),
            "ACCESS": ACCESS[control.access]}
    if control.access != "w" and control.address in values:
        node["VALUE"] = [values[control.address]]
    choices = control.choices if choices is None else choices
    if choices is not None:
        node["RANGE"] = [{"VALS": list(choices)}]
    elif control.low is not None or control.high is not None:
        node["RANGE"] = [{"MIN": control.low, "MAX": control.high}]
    return node


def tree(controls: dict[str, Control], values: dict[str, Any], choices: dict[str, tuple[str, ...]] | None = None
         ) -> dict:
    """The whole address space: containers hold CONTENTS, methods their attributes. `choices`: the values
    an address takes that its Control cannot know (the scene names /scene/load takes)."""
    choices = choices or {}
    root = {"FULL_PATH": "/", "DESCRIPTION": NAME, "ACCESS": 0, "CONTENTS": {}}
    for address in sorted(controls):
        node, path = root, ""
        *folders, leaf = address.strip("/").split("/")
        for name in folders:
            path += "/" + name
            node = node["CONTENTS"].setdefault(name, {
                "FULL_PATH": path, "DESCRIPTION": CONTAINERS.get(name, name), "ACCESS": 0, "CONTENTS": {}})
        node["CONTENTS"][leaf] = method_node(controls[address], values, choices.get(address))
    return root


def show_tree(show) -> dict:
    """The tree of a Show now, with the scene names as /scene/load's choices."""
    return tree(show.controls(), show.values(), {"/scene/load": tuple(scene_names(show.scenes_dir))})


def find(root: dict, path: str) -> dict | None:
    node = root
    for name in filter(None, path.split("/")):
        node = node.get("CONTENTS", {}).get(name)
        if node is None:
            return None
    return node


def is_websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


class OscQueryServer:
    """Serves the tree on the OSC interface (config.osc.host) at config.oscquery.port."""

    def __init__(self, config: Config, show, osc_port: int):
        self.config, self.show, self.osc_port = config, show, osc_port
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._answer)
        self._http = HttpServer(app, config.osc.host, config.oscquery.port, allow=config.osc.allow,
                                key="oscquery.port", what="OSCQuery", hostnames=config.osc.hostnames)
        self.listening = Listening(show, self._http.call, source="oscquery")
        self._zeroconf = None
        self.service_name: str | None = None  # the zeroconf name, once advertised

    @property
    def address(self) -> tuple[str, int] | None:
        return self._http.address

    def host_info(self) -> dict:
        info = {"NAME": NAME, "OSC_PORT": self.osc_port, "OSC_TRANSPORT": "UDP",
                "EXTENSIONS": {**{name: True for name in ATTRIBUTES if name not in ("FULL_PATH", "CONTENTS")},
                               "LISTEN": True, "TAGS": False, "UNIT": False, "CLIPMODE": False,
                               "CRITICAL": False, "PATH_CHANGED": False}}
        if self.config.osc.host not in ("0.0.0.0", "::"):  # without OSC_IP, clients use the HTTP server's address
            info["OSC_IP"] = self.config.osc.host
        return info

    def start(self) -> None:
        self._http.start()
        self.show.on("/", self.listening.on_change)
        if self.config.oscquery.zeroconf:
            self._advertise()

    def stop(self) -> None:
        if self._zeroconf is not None:
            self._zeroconf.close()  # unregisters the service too
            self._zeroconf = None
        if self._http.address is not None:
            self._http.run(self.listening.close_all()).result(timeout=5)
        self._http.stop()

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        if request.method != "GET":
            return web.json_response({"error": f"{request.method[:20]} not served: OSCQuery answers GET"},
                                     status=HTTPStatus.NOT_IMPLEMENTED)
        if is_websocket(request):
            return await self.listening.handle(request)
        path, attribute = request.path, request.query_string
        if attribute == "HOST_INFO":
            return web.json_response(self.host_info())
        node = find(show_tree(self.show), path)
        if node is None:
            return web.json_response({"error": f"no node at {path[:200]}"}, status=HTTPStatus.NOT_FOUND)
        if not attribute:
            return web.json_response(node)
        if attribute not in ATTRIBUTES:
            return web.json_response({"error": f"unknown attribute {attribute[:100]}; expected HOST_INFO or one "
                                               f"of {', '.join(ATTRIBUTES)}"}, status=HTTPStatus.BAD_REQUEST)
        if attribute not in node:
            return web.Response(status=HTTPStatus.NO_CONTENT)  # the spec's answer for e.g. VALUE of a write-only
        return web.json_response({attribute: node[attribute]})

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
