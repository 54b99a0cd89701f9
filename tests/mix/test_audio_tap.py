"""Taps: every mixed block reaches the listeners off the callback, in order, with its frame index."""

import time

import numpy as np

from engine.mix.tap import Taps


def block(value, frames=64):
    return np.full((frames, 2), value, np.float32)


def test_blocks_reach_every_listener_in_order_with_their_frame_index():
    taps = Taps(block=64, blocks=8)
    got, also = [], []
    taps.push(block(9.0), 0)                  # no listener yet: nothing kept
    taps.add(lambda b, i: got.append((i, float(b[0, 0]), len(b))))
    taps.add(lambda b, i: also.append(i))
    taps.start()
    try:
        for k in range(5):
            taps.push(block(float(k), 64 if k < 4 else 32), 64 * k)
        deadline = time.monotonic() + 5
        while len(got) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        taps.stop()
    assert got == [(0, 0.0, 64), (64, 1.0, 64), (128, 2.0, 64), (192, 3.0, 64), (256, 4.0, 32)]
    assert also == [0, 64, 128, 192, 256]


def test_a_full_ring_drops_and_counts_and_a_broken_listener_harms_no_one(caplog):
    taps = Taps(block=16, blocks=4)
    got = []

    def broken(b, i):
        raise RuntimeError("disk full")

    taps.add(broken)
    taps.add(lambda b, i: got.append(i))
    for k in range(6):                        # nobody drains: two are dropped
        taps.push(block(1.0, 16), 16 * k)
    assert taps.dropped == 2
    taps.drain_once()
    assert got == [0, 16, 32, 48]
    assert "disk full" in caplog.text
