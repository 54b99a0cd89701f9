"""Shared-memory rings: frames in order across the wrap, epochs, another process writing."""

import multiprocessing as mp

import numpy as np

from engine.mix.ring import EPOCH, READ, WRITTEN, RingFeed, Rings


def ramp(start, n):
    return np.repeat(np.arange(start, start + n, dtype=np.float32)[:, None], 2, axis=1)


def test_frames_come_out_in_order_across_the_wrap():
    rings = Rings(slots=2, capacity=1000)
    try:
        rings.header[1, EPOCH] = 5
        feed = RingFeed(rings, 1, epoch=5)
        out = np.zeros((300, 2), np.float32)
        sent = 0
        for _ in range(10):  # 3000 frames through a 1000-frame ring
            rings.write(1, ramp(sent, 300))
            sent += 300
            assert feed.available() == 300
            feed.read(out)
            assert np.array_equal(out, ramp(sent - 300, 300))
        assert rings.ahead(1) == 0 and rings.ahead(0) == 0
        feed.skip(0)
        assert rings.header[1, READ] == rings.header[1, WRITTEN] == 3000
    finally:
        rings.close()


def test_a_feed_hears_nothing_from_another_epoch():
    rings = Rings(slots=1, capacity=1024)
    try:
        rings.header[0, EPOCH] = 1
        rings.write(0, ramp(0, 512))
        assert RingFeed(rings, 0, epoch=2).available() == 0
        assert RingFeed(rings, 0, epoch=1).available() == 512
    finally:
        rings.close()


def _writer(name, slots, capacity):
    rings = Rings(slots, capacity, name)
    rings.header[0, EPOCH] = 9
    rings.write(0, ramp(100, 256))
    rings.close()


def test_another_process_writes_and_the_owner_reads():
    rings = Rings(slots=1, capacity=512)
    try:
        process = mp.get_context("spawn").Process(target=_writer, args=(rings.name, 1, 512))
        process.start()
        process.join(30)
        assert process.exitcode == 0
        feed = RingFeed(rings, 0, epoch=9)
        out = np.zeros((256, 2), np.float32)
        assert feed.available() == 256
        feed.read(out)
        assert np.array_equal(out, ramp(100, 256))
    finally:
        rings.close()
