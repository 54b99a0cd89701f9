"""Bounded work per OSC packet (issue 16, class 1), over real UDP into the real server and Show: address
patterns that made python-osc's regular expressions backtrack for minutes cost nothing, the frame loop keeps
its pace meanwhile, and numbers that do not fit are bad arguments."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_message_builder import build_msg

from control_helpers import control_config, wait_for
from engine.control import start_controllers
from engine.control.osc import MAX_DATAGRAM, MAX_MESSAGES, MAX_PATTERNS
from engine.control.pattern import MAX_PATTERN, PatternError, matching
from engine.show.controls import controls_for
from engine.show.state import Show

ADDRESSES = tuple(controls_for(["birds", "frogs"]))
# Each held python-osc's matching for seconds to hours (it backtracks over every run of '[^/]*').
HOSTILE = ["/visual/" + "*" * 40 + "z", "/audio/layer/" + "*?" * 60 + "/gain", "/*/" + "*" * 100 + "!",
           "/{" + ",".join("*" * 8 for _ in range(20)) + "}x/*"]


def _python_osc(pattern: str) -> list[str]:
    table = Dispatcher()
    for address in ADDRESSES:
        table.map(address, None, address)
    return [handler.args[0] for handler in table.handlers_for_address(pattern)]


@pytest.mark.parametrize("pattern", ["/visual/*", "/*/*", "/*", "/audio/layer/*/gain", "/visual/{black,drift}",
                                     "/visual/[a-c]*", "/visual/[!b]*", "/audio/layer/?????/mute",
                                     "/*/*/*/*", "/visual/*e*", "/sampler/s*", "/nothing/*"])
def test_patterns_match_what_python_osc_matches(pattern):
    assert matching(pattern, ADDRESSES) == _python_osc(pattern)


def test_malformed_and_overlong_patterns_are_refused():
    for pattern in ("/visual/[ab", "/visual/{a,b", "/visual/a]"):
        with pytest.raises(PatternError):
            matching(pattern, ADDRESSES)
    with pytest.raises(PatternError, match="at most"):
        matching("/" + "*" * MAX_PATTERN, ADDRESSES)


@pytest.fixture
def frames(tmp_path):
    """(config, show, controllers, gaps): a frame loop at 100 fps recording the gap between frames."""
    config = control_config(tmp_path, oscquery={"enabled": False})
    show = Show(config, scene="dawn")
    stop, gaps = threading.Event(), []

    def loop():
        last = time.monotonic()
        while not stop.is_set():
            show.update(time.monotonic())
            time.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    controllers = start_controllers(config, show)
    yield config, show, controllers, gaps
    controllers.stop()
    stop.set()
    thread.join(5)


def test_hostile_patterns_neither_hold_osc_nor_the_frames(frames):
    config, show, controllers, gaps = frames
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        target = ("127.0.0.1", config.osc.port)
        del gaps[:]
        for _ in range(25):
            for pattern in HOSTILE:
                sock.sendto(build_msg(pattern, [1.0]).dgram, target)
        sock.sendto(build_msg("/visual/black", [1.0]).dgram, target)
        # Before: the first packet alone held the OSC thread for minutes and froze frames for seconds.
        assert wait_for(lambda: show.values()["/visual/black"] == 1.0, timeout=5)
    stats = controllers.osc.stats
    assert stats["dropped_unknown"] == 25 * len(HOSTILE) and stats["handler_errors"] == 0
    assert max(gaps) < 0.5, f"a frame waited {max(gaps):.2f} s"


def test_numbers_that_do_not_fit_are_bad_arguments(frames):
    config, show, controllers, _ = frames
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for value in (float("inf"), float("-inf")):
            sock.sendto(build_msg("/sampler/steps", [value]).dgram, ("127.0.0.1", config.osc.port))
        assert wait_for(lambda: controllers.osc.stats["dropped_bad_args"] == 2)
    assert controllers.osc.stats["handler_errors"] == 0  # it was an OverflowError from int(round(inf))


def test_oversized_packets_are_dropped_whole(frames):
    config, show, controllers, _ = frames
    one = build_msg("/visual/black", [1.0]).dgram
    many = b"#bundle\x00" + b"\x00" * 7 + b"\x01" + (len(one).to_bytes(4, "big") + one) * (MAX_MESSAGES + 1)
    assert len(many) <= MAX_DATAGRAM
    patterns = b"#bundle\x00" + b"\x00" * 7 + b"\x01" + b"".join(
        len(m).to_bytes(4, "big") + m for m in [build_msg(f"/visual/*{i}", [1.0]).dgram for i in range(MAX_PATTERNS + 1)])
    big = build_msg("/visual/black", [b"x" * MAX_DATAGRAM]).dgram
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(many, ("127.0.0.1", config.osc.port))
        sock.sendto(big, ("127.0.0.1", config.osc.port))
        sock.sendto(patterns, ("127.0.0.1", config.osc.port))
        assert wait_for(lambda: controllers.osc.stats["dropped_too_large"] == 3)
    assert show.values()["/visual/black"] == 0.0 and controllers.osc.stats["forwarded"] == 0
