"""OSCQuery over real HTTP on loopback: the tree mirrors the Show's address table and current values."""

from __future__ import annotations

import http.client
import json
import socket
import time

import pytest
from pythonosc.osc_message_builder import build_msg

from control_helpers import control_config, running_show, wait_for
from engine.control import start_controllers


@pytest.fixture
def served(tmp_path):
    config = control_config(tmp_path)
    with running_show(config) as show:
        controllers = start_controllers(config, show)
        yield config, show, controllers
        controllers.stop()


def get(config, path: str) -> tuple[int, object]:
    connection = http.client.HTTPConnection("127.0.0.1", config.oscquery.port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        return response.status, json.loads(body) if body else None
    finally:
        connection.close()


def leaves(node: dict) -> dict[str, dict]:
    if "CONTENTS" not in node:
        return {node["FULL_PATH"]: node}
    found = {}
    for child in node["CONTENTS"].values():
        found.update(leaves(child))
    return found


def test_the_tree_holds_every_address_with_its_attributes(served):
    config, show, controls = served[0], served[1], served[1].controls()
    before = show.values()
    status, root = get(config, "/")
    values = show.values()
    moving = {a for a in values if before.get(a) != values[a]}  # the clock's own values (the beat) run on
    assert status == 200 and root["FULL_PATH"] == "/"
    methods = leaves(root)
    assert set(methods) == set(controls)
    for address, control in controls.items():
        node = methods[address]
        assert node["DESCRIPTION"] == control.description
        assert node["ACCESS"] == {"r": 1, "w": 2, "rw": 3}[control.access]
        assert node["TYPE"] == {"f": "f", "i": "i", "s": "s", "b": "T", "": "N"}[control.kind]
        if address in values and control.access != "w":
            assert address in moving or node["VALUE"] == [values[address]]
        else:
            assert "VALUE" not in node
    assert methods["/audio/master"]["RANGE"] == [{"MIN": 0.0, "MAX": 2.0}]
    assert "ddim" in methods["/sampler/scheduler"]["RANGE"][0]["VALS"]
    assert root["CONTENTS"]["audio"]["CONTENTS"]["layer"]["CONTENTS"]["birds"]["FULL_PATH"] == "/audio/layer/birds"


def test_single_nodes_and_attributes_follow_the_show(served):
    config, show, controllers = served
    status, node = get(config, "/audio/master")
    assert status == 200 and node["FULL_PATH"] == "/audio/master" and "CONTENTS" not in node
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(build_msg("/audio/master", [1.25]).dgram, ("127.0.0.1", config.osc.port))
    assert wait_for(lambda: show.values()["/audio/master"] == 1.25)
    assert get(config, "/audio/master?VALUE") == (200, {"VALUE": [1.25]})
    assert get(config, "/audio/master?ACCESS") == (200, {"ACCESS": 3})
    status, container = get(config, "/audio/")
    assert status == 200 and {"master", "mute", "layer"} <= set(container["CONTENTS"])


def test_host_info_names_the_osc_server(served):
    config, show, controllers = served
    status, info = get(config, "/?HOST_INFO")
    assert status == 200
    assert info["OSC_PORT"] == config.osc.port and info["OSC_TRANSPORT"] == "UDP"
    assert info["OSC_IP"] == "127.0.0.1" and info["NAME"]
    assert info["EXTENSIONS"]["VALUE"] is True and info["EXTENSIONS"]["LISTEN"] is True


def test_unknown_paths_and_attributes_and_junk_are_answered_and_never_fatal(served):
    config, show, controllers = served
    assert get(config, "/nowhere")[0] == 404
    assert get(config, "/audio/master/deeper")[0] == 404
    assert get(config, "/audio/master?NONSENSE")[0] == 400
    assert get(config, "/scene/next?VALUE") == (204, None)  # an action has no value
    with socket.create_connection(("127.0.0.1", config.oscquery.port), timeout=5) as s:
        s.sendall(b"POST /audio/master HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 501")  # GET only: OSCQuery changes nothing
    junks = (b"\x00\xff garbage\r\n\r\n", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", b"POST / HTTP/1.1\r\n\r\n")
    for junk in junks:
        with socket.create_connection(("127.0.0.1", config.oscquery.port), timeout=5) as s:
            s.sendall(junk)
            answer = b"".join(iter(lambda: s.recv(4096), b""))  # the server closes after an error
            assert answer.startswith(b"HTTP/1.") and answer.split(b" ")[1] in (b"400", b"501")  # not a hang
    assert get(config, "/audio/master?VALUE")[0] == 200


def test_serves_on_the_osc_interface_only(served):
    config, show, controllers = served
    assert controllers.oscquery.address == (config.osc.host, config.oscquery.port)


def test_the_tree_follows_a_scene_change(served):
    config, show, controllers = served
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(build_msg("/scene/load", ["rain"]).dgram, ("127.0.0.1", config.osc.port))
    assert wait_for(lambda: show.values()["/scene/name"] == "rain")
    layers = set(get(config, "/audio/layer")[1]["CONTENTS"])
    assert layers == set(show.scene.sound.layers)


def test_zeroconf_advertises_oscjson(tmp_path):
    zeroconf = pytest.importorskip("zeroconf")
    config = control_config(tmp_path, oscquery={"zeroconf": True})
    with running_show(config) as show:
        controllers = start_controllers(config, show)
        try:
            if controllers.oscquery.service_name is None:
                pytest.skip("zeroconf could not advertise on this machine's loopback (no multicast there)")
            browser_side = zeroconf.Zeroconf(interfaces=["127.0.0.1"])
            try:
                name = None
                deadline = time.monotonic() + 5
                while name is None and time.monotonic() < deadline:
                    info = browser_side.get_service_info(
                        "_oscjson._tcp.local.", controllers.oscquery.service_name, timeout=1000)
                    name = info and info.name
                assert info is not None and info.port == config.oscquery.port
            finally:
                browser_side.close()
        finally:
            controllers.stop()
