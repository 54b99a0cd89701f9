"""Control exposure (issue 16, class 8), over real sockets: destructive controls can be kept off the network
(osc.deny) while keys still reach them, feedback forgets controllers that fell silent, and OSCQuery serves
200 clients that connect at once."""

from __future__ import annotations

import concurrent.futures
import socket
import time

import pytest
from pythonosc.osc_message_builder import build_msg

import engine.control.osc as osc
from control_helpers import control_config, running_show, wait_for
from engine.control import start_controllers
from engine.errors import UserError
from engine.show.controls import Command


@pytest.fixture
def denied(tmp_path):
    config = control_config(tmp_path, oscquery={"enabled": False}, osc={"deny": ["/show/quit", "/record/"]})
    with running_show(config) as show:
        controllers = start_controllers(config, show)
        yield config, show, controllers
        controllers.stop()


def test_denied_addresses_are_dropped_from_the_network_and_keys_still_reach_them(denied):
    config, show, controllers = denied
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for address in ("/show/quit", "/record/start", "/record/stop"):
            sock.sendto(build_msg(address, []).dgram, ("127.0.0.1", config.osc.port))
        sock.sendto(build_msg("/visual/black", [1.0]).dgram, ("127.0.0.1", config.osc.port))
        assert wait_for(lambda: show.values()["/visual/black"] == 1.0)
    assert controllers.osc.stats["dropped_denied"] == 3 and not show.quit_requested
    assert not show.values()["/record/active"]
    show.submit(Command("/show/quit", source="key"))
    assert wait_for(lambda: show.quit_requested)


def test_a_deny_entry_that_is_not_an_address_is_a_clear_error(tmp_path):
    config = control_config(tmp_path, oscquery={"enabled": False}, osc={"deny": ["show/quit"]})
    with running_show(config) as show, pytest.raises(UserError, match=r"osc\.deny\[0\]: expected an address"):
        start_controllers(config, show)


def test_feedback_forgets_controllers_that_fell_silent(tmp_path, monkeypatch):
    config = control_config(tmp_path, oscquery={"enabled": False})
    with running_show(config) as show:
        controllers = start_controllers(config, show)
        early, late = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2))
        try:
            for sock in (early, late):
                sock.bind(("127.0.0.1", 0))
                sock.settimeout(0.5)
            early.sendto(build_msg("/visual/black", [0.5]).dgram, ("127.0.0.1", config.osc.port))
            assert early.recvfrom(1024)  # feedback while it talks to us
            monkeypatch.setattr(osc, "FORGET_AFTER", 0.3)
            time.sleep(0.5)
            late.sendto(build_msg("/visual/black", [0.7]).dgram, ("127.0.0.1", config.osc.port))
            assert late.recvfrom(1024)
            with pytest.raises(socket.timeout):  # before: every sender ever heard got every change
                early.recvfrom(1024)
        finally:
            early.close()
            late.close()
            controllers.stop()


def _ask(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(f"GET /?HOST_INFO HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        return data


def test_oscquery_answers_200_clients_at_once(tmp_path):
    config = control_config(tmp_path)
    with running_show(config) as show:
        controllers = start_controllers(config, show)
        try:
            port = controllers.oscquery.address[1]
            with concurrent.futures.ThreadPoolExecutor(200) as pool:
                answers = list(pool.map(lambda _: _ask(port), range(200)))
        finally:
            controllers.stop()
    assert sum(answer.startswith(b"HTTP/1.1 200") for answer in answers) == 200  # before: 40 timed out
