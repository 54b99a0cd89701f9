"""Fuzz: > 10,000 random and malformed OSC packets over real UDP into the real server and Show.

Garbage bytes, truncated messages, wrong type tags, huge blobs, lying size fields, bundles in bundles (one
thousands deep), well-formed messages with wrong types or to unknown addresses, interleaved with valid ones.
Afterwards the server is alive and the Show's values changed by exactly the valid messages.
"""

from __future__ import annotations

import random
import socket
import struct
import time

from pythonosc.osc_message_builder import build_msg

from control_helpers import control_config, running_show, wait_for
from engine.control import start_controllers
from engine.show.state import MOVING

PACKETS = 12_000
TYPE_TAGS = "ifsbhdtTFNIcrm[]xyz,"
NUMBER_TAGS = (",f", ",i", ",h", ",d")

# Well-formed OSC that coerce() must refuse: (address, args).
WRONG = [("/audio/master", ["loud"]), ("/audio/master", [5.0]), ("/audio/master", [-1.0]),
         ("/audio/master", [0.5, 0.5]), ("/audio/master", [b"\x00\x01"]), ("/audio/master", [None]),
         ("/audio/master", [[0.1, 0.2]]), ("/audio/master", [True]), ("/audio/master", [float("nan")]),
         ("/audio/master", [float("inf")]), ("/audio/master", []), ("/sampler/steps", [0]),
         ("/sampler/steps", [5000]), ("/sampler/steps", ["x"]), ("/visual/freeze", [0.5]), ("/visual/freeze", [2]),
         ("/visual/freeze", ["on"]), ("/sampler/scheduler", ["dpm"]), ("/sampler/scheduler", [3]),
         ("/scene/name", ["night"]), ("/scene/load", [42]), ("/midi/learn", [1.0])]


def pad(data: bytes) -> bytes:
    return data + b"\x00" * (4 - len(data) % 4)


def bundle(contents: list[bytes], timetag: bytes = b"\x00" * 7 + b"\x01") -> bytes:
    return b"#bundle\x00" + timetag + b"".join(struct.pack(">i", len(c)) + c for c in contents)


class Fuzzer:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.valid: list[tuple[str, float | int]] = []  # what should apply, in order

    def garbage(self) -> bytes:
        head = self.rng.choice([b"", b"/", b"#bundle\x00", b"/scene/name\x00,"])  # read-only: nothing can apply
        return head + self.rng.randbytes(self.rng.randrange(0, 300))

    def truncated(self) -> bytes:
        message = build_msg("/audio/master", [1.5]).dgram  # 1.5 would show if a cut message ever applied
        return message[:self.rng.randrange(0, len(message))]

    def wrong_tags(self) -> bytes:
        tags = ",f"
        while tags in NUMBER_TAGS:  # random bytes under one number tag may well be a valid master gain
            tags = "," + "".join(self.rng.choice(TYPE_TAGS) for _ in range(self.rng.randrange(0, 8)))
        return pad(b"/audio/master") + pad(tags.encode()) + self.rng.randbytes(self.rng.randrange(0, 40))

    def huge_blob(self) -> bytes:
        if self.rng.random() < 0.5:  # a size field that lies
            return pad(b"/visual/black") + pad(b",b") + struct.pack(">i", self.rng.choice([2**31 - 1, -5, 4096]))
        return build_msg("/visual/black", [self.rng.randbytes(self.rng.randrange(1000, 60000))]).dgram

    def nested(self) -> bytes:
        data = self.rng.choice([self.garbage(), self.wrong_tags(), build_msg(*self.rng.choice(WRONG)).dgram])
        for _ in range(self.rng.randrange(1, 20)):
            data = bundle([data, self.truncated()] if self.rng.random() < 0.3 else [data])
        if self.rng.random() < 0.3:  # a lying element size somewhere inside
            cut = self.rng.randrange(16, len(data))
            data = data[:cut] + struct.pack(">i", self.rng.randrange(-10, 70000)) + data[cut + 4:]
        return data

    def wrong_message(self) -> bytes:
        if self.rng.random() < 0.3:
            address = "/" + "".join(self.rng.choice("abcxyz/,!#") for _ in range(self.rng.randrange(1, 30)))
            return build_msg(address, [1.0]).dgram
        return build_msg(*self.rng.choice(WRONG)).dgram

    def valid_one(self) -> bytes:
        if self.rng.random() < 0.5:
            message = ("/visual/drift", self.rng.randrange(0, 33) / 64)  # exact in float32
        else:
            message = ("/sampler/steps", self.rng.randrange(1, 100))
        self.valid.append(message)
        data = build_msg(message[0], [message[1]]).dgram
        for _ in range(self.rng.randrange(0, 3)):  # sometimes inside bundles in bundles
            data = bundle([data])
        return data

    def packets(self, count: int):
        kinds = [self.garbage, self.truncated, self.wrong_tags, self.huge_blob, self.nested, self.wrong_message]
        weights = [30, 15, 20, 2, 15, 18]
        for i in range(count):
            yield self.valid_one() if i % 40 == 0 else self.rng.choices(kinds, weights)[0]()
        deep = build_msg("/audio/master", ["x"]).dgram
        for _ in range(3000):  # deeper than Python's recursion limit when parsed
            deep = bundle([deep])
        yield deep


def test_thousands_of_bad_packets_change_nothing_but_what_the_valid_ones_say(tmp_path):
    config = control_config(tmp_path, oscquery={"enabled": False})
    fuzzer = Fuzzer(seed=20240607)
    with running_show(config) as show:
        controllers = start_controllers(config, show)
        osc = controllers.osc
        before = show.values()
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sent = 0
        try:
            valid_sent = 0
            for data in fuzzer.packets(PACKETS):
                sender.sendto(data, ("127.0.0.1", config.osc.port))
                sent += 1
                if len(fuzzer.valid) > valid_sent:  # that one was valid
                    valid_sent = len(fuzzer.valid)
                    # Let the server catch up at each valid packet, so a small kernel receive buffer (where
                    # net.core.rmem_max is low) cannot drop valid ones among the 60 kB blobs.
                    assert wait_for(lambda: osc.stats["forwarded"] == len(fuzzer.valid), timeout=10), osc.stats
            assert sent >= 10_000
            assert wait_for(lambda: osc.stats["forwarded"] == len(fuzzer.valid), timeout=20), osc.stats
            assert wait_for(lambda: show.stats["applied"] == len(fuzzer.valid), timeout=5), show.stats
            expected = dict(before)
            expected.update(fuzzer.valid)
            assert {k: v for k, v in show.values().items() if k not in MOVING} == \
                   {k: v for k, v in expected.items() if k not in MOVING}
            assert show.stats["rejected"] == 0
            assert osc._thread.is_alive()
            for stat in ("dropped_malformed", "dropped_bad_args", "dropped_unknown"):
                assert osc.stats[stat] > 100, osc.stats
            sender.sendto(build_msg("/visual/black", [1.0]).dgram, ("127.0.0.1", config.osc.port))
            assert wait_for(lambda: show.values()["/visual/black"] == 1.0)  # still serving
        finally:
            sender.close()
            controllers.stop()
