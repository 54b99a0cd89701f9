"""OSC over real UDP on loopback into a real Show: values apply, bad input is dropped and counted, feedback
comes back, bundles unpack, the allowlist holds."""

from __future__ import annotations

import socket
import time

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import build_msg

from control_helpers import control_config, free_port, running_show, wait_for
from engine.show.controls import Command
from engine.show.state import MOVING
from engine.control import start_controllers
from engine.errors import UserError


class Client:
    """A controller: one UDP socket that sends to the server and reads what comes back."""

    def __init__(self, port: int):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.target = ("127.0.0.1", port)

    def send(self, address: str, *args) -> None:
        self.sock.sendto(build_msg(address, list(args)).dgram, self.target)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendto(data, self.target)

    def receive(self, seconds: float = 1.0, until=None) -> list[tuple[str, tuple]]:
        """Feedback messages that arrive within `seconds` (or until `until(messages)` holds)."""
        got, deadline = [], time.monotonic() + seconds
        while time.monotonic() < deadline and not (until and until(got)):
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data, _ = self.sock.recvfrom(65536)
            except socket.timeout:
                break
            message = OscMessage(data)
            got.append((message.address, tuple(message.params)))
        return got

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def setup(tmp_path):
    """(config, show, controllers, client) with OSC on a free port; OSCQuery and MIDI off."""
    config = control_config(tmp_path, oscquery={"enabled": False})
    with running_show(config) as show:
        controllers = start_controllers(config, show)
        client = Client(config.osc.port)
        yield config, show, controllers, client
        client.close()
        controllers.stop()


def test_listens_on_loopback_unless_configured(setup):
    config, show, controllers, client = setup
    assert config.osc.host == "127.0.0.1"
    assert controllers.osc.address == ("127.0.0.1", config.osc.port)


def test_a_value_applies_and_the_coerced_value_comes_back_to_the_sender(setup):
    config, show, controllers, client = setup
    client.send("/visual/black", 1)  # an int for a float control: coerced, and sent back as the float
    assert wait_for(lambda: show.values()["/visual/black"] == 1.0)
    assert ("/visual/black", (1.0,)) in client.receive(until=lambda got: got)
    client.send("/visual/freeze", 1)
    assert client.receive(until=lambda got: got) == [("/visual/freeze", (1,))]  # on/off goes back as 0/1
    assert show.values()["/visual/freeze"] is True
    assert wait_for(lambda: show.stats["applied"] == 2)  # counted just after the listeners have run
    assert controllers.osc.stats["forwarded"] == 2


@pytest.mark.parametrize("address, args, stat", [
    ("/nowhere", (1.0,), "dropped_unknown"),
    ("/audio/master", ("loud",), "dropped_bad_args"),
    ("/audio/master", (7.5,), "dropped_bad_args"),        # out of range
    ("/audio/master", (0.5, 0.6), "dropped_bad_args"),    # too many
    ("/sampler/scheduler", ("dpm",), "dropped_bad_args"),  # not one of the choices
    ("/scene/name", ("night",), "dropped_bad_args"),       # read-only
    ("/visual/reveal", (0.5,), "dropped_bad_args"),
])
def test_bad_messages_are_dropped_counted_and_logged(setup, caplog, address, args, stat):
    config, show, controllers, client = setup
    before = show.values()
    client.send(address, *args)
    assert wait_for(lambda: controllers.osc.stats[stat] == 1)
    client.send("/visual/drift", 0.25)  # the server goes on
    assert wait_for(lambda: show.values()["/visual/drift"] == 0.25)
    assert {k: v for k, v in show.values().items() if k != "/visual/drift" and k not in MOVING} == \
           {k: v for k, v in before.items() if k != "/visual/drift" and k not in MOVING}
    assert controllers.osc.stats["forwarded"] == 1
    assert address in caplog.text


def test_undecodable_datagrams_are_counted_and_never_stop_the_server(setup):
    config, show, controllers, client = setup
    master = build_msg("/audio/master", [1.5]).dgram
    for data in (b"", b"garbage", b"/audio/master\x00\x00\x00,f\x00", b"#bundle\x00" + b"\xff" * 12,
                 master[:-2], master[:-4],  # cut short: python-osc alone would read 1.5 and 0.0
                 master.replace(b",f\x00\x00", b",fx\x00")):  # an unknown type tag: OSC 1.0 says discard
        client.send_raw(data)
    assert wait_for(lambda: controllers.osc.stats["dropped_malformed"] == 7)
    client.send("/audio/master", 0.25)
    assert wait_for(lambda: show.stats["applied"] == 1)  # that one, and none of the broken ones
    assert show.values()["/audio/master"] == 0.25


def bundle(*contents, timestamp=IMMEDIATELY):
    builder = OscBundleBuilder(timestamp)
    for content in contents:
        builder.add_content(content)
    return builder.build()


def test_bundles_in_bundles_are_unpacked_and_future_time_tags_do_not_stall(setup):
    config, show, controllers, client = setup
    inner = bundle(build_msg("/visual/hold", [2.5]), build_msg("/sampler/steps", [12]))
    later = time.time() + 3600  # an hour ahead: applied at the next frame, not waited for
    client.send_raw(bundle(build_msg("/visual/drift", [0.375]), inner, timestamp=later).dgram)
    assert wait_for(lambda: show.values()["/sampler/steps"] == 12)
    assert show.values()["/visual/hold"] == 2.5 and show.values()["/visual/drift"] == 0.375


def test_state_sends_back_every_value(setup):
    config, show, controllers, client = setup
    values = show.values()
    client.send("/state")
    got = dict(client.receive(seconds=3, until=lambda got: len(got) >= len(values)))
    assert set(got) == set(values)
    assert got["/scene/name"] == ("dawn",)
    assert got["/visual/hold"] == (pytest.approx(values["/visual/hold"]),)


def test_changes_from_elsewhere_reach_every_controller_that_has_talked(setup):
    config, show, controllers, client = setup
    other = Client(config.osc.port)
    try:
        client.send("/visual/drift", 0.125)
        other.send("/visual/hold", 4.0)
        assert wait_for(lambda: show.values()["/visual/hold"] == 4.0)
        client.receive(0.3), other.receive(0.3)
        show.submit(Command("/audio/layer/birds/gain", (1.5,), "midi"))  # e.g. a MIDI fader
        for c in (client, other):
            assert c.receive(until=lambda got: got) == [("/audio/layer/birds/gain", (1.5,))]
    finally:
        other.close()


def test_scene_load_by_name_reports_the_new_scene(setup):
    config, show, controllers, client = setup
    client.send("/scene/load", "night")
    got = client.receive(seconds=2, until=lambda got: ("/scene/name", ("night",)) in got)
    assert ("/scene/name", ("night",)) in got and show.scene.name == "night"
    client.send("/scene/load", "../config")  # a name from outside never leaves the scenes folder
    time.sleep(0.1)
    assert wait_for(lambda: show.stats["rejected"] == 1) and show.scene.name == "night"


def test_feedback_goes_to_the_configured_address(tmp_path):
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(2)
    config = control_config(tmp_path, oscquery={"enabled": False},
                            osc={"feedback_host": "localhost", "feedback_port": listener.getsockname()[1]})
    with running_show(config) as show:
        controllers = start_controllers(config, show)
        try:
            show.submit(Command("/visual/black", (0.5,), "key"))  # before any controller has spoken
            assert OscMessage(listener.recvfrom(65536)[0]).params == [0.5]
            client = Client(config.osc.port)
            client.send("/visual/black", 0.75)
            message = OscMessage(listener.recvfrom(65536)[0])
            assert (message.address, message.params) == ("/visual/black", [0.75])
            assert client.receive(0.3) == []  # not to the sender: the configured address is the one
            client.close()
        finally:
            controllers.stop()
            listener.close()


@pytest.mark.parametrize("allow, applies", [(["10.0.0.0/8", "192.168.1.0/24"], False), (["127.0.0.0/8"], True)])
def test_the_allowlist_decides_who_may_send(tmp_path, allow, applies):
    config = control_config(tmp_path, oscquery={"enabled": False}, osc={"allow": allow})
    with running_show(config) as show:
        controllers = start_controllers(config, show)
        client = Client(config.osc.port)
        try:
            client.send("/visual/black", 1.0)
            stat = "forwarded" if applies else "dropped_not_allowed"
            assert wait_for(lambda: controllers.osc.stats[stat] == 1)
            time.sleep(0.05)
            assert (show.values()["/visual/black"] == 1.0) is applies
        finally:
            client.close()
            controllers.stop()


def test_bad_settings_and_a_taken_port_are_clear_errors(tmp_path):
    config = control_config(tmp_path, oscquery={"enabled": False}, osc={"allow": ["not-a-net"]})
    with running_show(config) as show:
        with pytest.raises(UserError, match=r"osc.allow\[0\].*not-a-net"):
            start_controllers(config, show)
        bad_host = control_config(tmp_path, osc={"feedback_host": "no such host.invalid", "feedback_port": 9})
        with pytest.raises(UserError, match="osc.feedback_host"):
            start_controllers(bad_host, show)
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", free_port()))
    config = control_config(tmp_path, oscquery={"enabled": False}, osc={"port": taken.getsockname()[1]})
    try:
        with running_show(config) as show:
            with pytest.raises(UserError, match="osc.port: cannot listen") as refused:
                start_controllers(config, show)
            assert "another port" in str(refused.value) and "--config" in str(refused.value)  # what to do
    finally:
        taken.close()


def test_stop_frees_the_port(tmp_path):
    config = control_config(tmp_path, oscquery={"enabled": False})
    with running_show(config) as show:
        start_controllers(config, show).stop()
        again = start_controllers(config, show)  # same port binds again
        again.stop()


def test_every_address_is_documented():
    from engine.settings.config import PROJECT_ROOT
    from engine.show.controls import controls_for

    page = (PROJECT_ROOT / "docs" / "control.md").read_text()
    missing = [a for a in controls_for(("NAME",)) if f"| `{a}` |" not in page]
    assert not missing, f"docs/control.md lacks {missing}"


def test_a_controller_that_cannot_start_leaves_nothing_running(tmp_path):
    config = control_config(tmp_path, midi={"enabled": True, "input": "(["})
    with running_show(config) as show:
        with pytest.raises(UserError, match="midi.input"):
            start_controllers(config, show)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", config.osc.port))  # the OSC server that had started is gone again
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", config.oscquery.port))


def test_address_patterns_reach_every_matching_address(setup):
    config, show, controllers, client = setup
    client.send("/audio/layer/*/mute", 1)  # mute every layer of the scene
    layers = show.scene.sound.layers
    assert wait_for(lambda: all(show.values()[f"/audio/layer/{n}/mute"] for n in layers))
    client.send("/visual/{black,drift}", 0.5)
    assert wait_for(lambda: show.values()["/visual/drift"] == 0.5 and show.values()["/visual/black"] == 0.5)
    client.send("/audio/layer/[!b]*/gain", 0.25)  # all but birds
    assert wait_for(lambda: show.values()["/audio/layer/owl/gain"] == 0.25)
    assert show.values()["/audio/layer/birds/gain"] != 0.25
    client.send("/*/*")  # would match /show/quit, /record/start...: a pattern never fires actions
    client.send("/nothing/*", 1)
    client.send("/visual/*", "words")  # matches, but fits none of them
    assert wait_for(lambda: controllers.osc.stats["dropped_unknown"] == 1 and
                    controllers.osc.stats["dropped_bad_args"] == 2)
    assert controllers.osc.stats["forwarded"] == len(layers) + 2 + len(layers) - 1
    assert not show.quit_requested and show.stats["rejected"] == 0


def test_the_allowlist_reads_ipv4_ipv6_and_mapped_addresses():
    from engine.settings.config import OscSettings
    from engine.control.osc import OscServer

    server = OscServer(OscSettings(allow=["192.168.1.0/24", "fd00::/8"]), show=None)
    allowed = {h: server.allowed(h) for h in ("192.168.1.9", "::ffff:192.168.1.5", "10.0.0.1", "::1",
                                               "fd12::7", "fe80::1%eth0", "not an address")}
    assert allowed == {"192.168.1.9": True, "::ffff:192.168.1.5": True, "10.0.0.1": False, "::1": False,
                       "fd12::7": True, "fe80::1%eth0": False, "not an address": False}
