"""The soundscape worker process: fills rings ahead, follows the plan, comes back after SIGKILL."""

import os
import signal
import time

import numpy as np
import pytest

from engine.mix.ring import EPOCH, READ, WRITTEN, RingFeed, Rings
from engine.mix.worker import LEAD, SPLICE, WorkerHost
from engine.settings.scenes import LayerSettings

RATE, AHEAD = 48000, 24000


def wait_for(condition, host, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        host.check(time.monotonic())
        if condition():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def host():
    rings = Rings(slots=4, capacity=AHEAD + 4096)
    host = WorkerHost(rings, RATE, AHEAD)
    host.launch()
    yield host
    host.close()
    rings.close()


def play(host, slot, epoch, name, layer, seed):
    """Put a layer in the plan, and read its ring as the player does."""
    host.start(slot, epoch, name, layer, seed)
    return RingFeed(host.rings, slot, epoch)


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def test_the_worker_fills_each_ring_ahead_and_follows_the_plan(host):
    leaves = play(host, 0, 1, "leaves", LayerSettings(source="rustle", density=3.0), seed=1)
    owls = play(host, 2, 2, "owls", LayerSettings(source="owls"), seed=2)
    assert wait_for(lambda: leaves.available() >= AHEAD and owls.available() >= AHEAD, host)
    out = np.zeros((4096, 2), np.float32)
    leaves.read(out)
    assert np.abs(out).max() > 0
    assert wait_for(lambda: leaves.available() >= AHEAD, host)      # topped up again
    assert leaves.available() <= AHEAD + 2048                         # and no further than ahead
    host.stop(2)
    host.density(0, 0.0)
    assert wait_for(lambda: not host.dirty, host)
    host.start(2, 3, "geckos", LayerSettings(source="geckos"), seed=3)  # a new epoch on the slot
    assert wait_for(lambda: host.rings.header[2, EPOCH] == 3 and host.rings.ahead(2) >= AHEAD, host)


def test_a_killed_worker_comes_back_and_splices_onto_the_old_sound(host):
    feed = play(host, 1, 7, "rustle", LayerSettings(source="rustle", density=3.0), seed=4)
    assert wait_for(lambda: feed.available() >= AHEAD, host)
    fds = None
    for kill in range(3):
        feed.skip(4096)                              # the reader moves on
        pid = host.pid
        os.kill(pid, signal.SIGKILL)
        while host.pid == pid and host.child.supervisor.process.is_alive():
            time.sleep(0.01)
        time.sleep(0.05)
        written = int(host.rings.header[1, WRITTEN])
        before = host.rings.get(1, written - SPLICE, SPLICE)
        assert wait_for(lambda: host.restarts == kill + 1 and host.rings.header[1, WRITTEN] > written, host)
        after = host.rings.get(1, written - SPLICE, SPLICE)
        assert np.allclose(after[:4], before[:4], atol=3e-3)      # the seam starts on the old sound
        assert not np.allclose(after[-SPLICE // 4:], before[-SPLICE // 4:])  # and ends on the new voice
        assert wait_for(lambda: feed.available() >= AHEAD, host)
        if fds is None:
            fds = open_fds()
    assert open_fds() == fds                         # no pipe or handle left behind per restart


def test_a_hung_worker_is_killed_and_restarted(host):
    host.child.watch.hung_seconds = 0.5
    feed = play(host, 0, 1, "leaves", LayerSettings(source="rustle"), seed=1)
    assert wait_for(lambda: feed.available() >= AHEAD, host)
    os.kill(host.pid, signal.SIGSTOP)                  # alive, but does nothing
    assert wait_for(lambda: host.restarts == 1, host, seconds=20)
    feed.skip(8192)
    assert wait_for(lambda: feed.available() >= AHEAD, host)


def test_a_density_change_is_heard_after_a_short_lead_not_after_the_whole_queue(host):
    play(host, 0, 1, "leaves", LayerSettings(source="rustle", density=0.1), seed=1)
    assert wait_for(lambda: host.rings.ahead(0) >= AHEAD, host)   # a full queue of a faint rustle
    read = int(host.rings.header[0, READ])                         # nobody reads: it stays put
    queued = host.rings.get(0, read, AHEAD)
    rms = lambda x: float(np.sqrt(np.mean(np.square(x))))
    host.density(0, 4.0)                                           # the hiss 6x louder, more gusts
    assert wait_for(lambda: not np.array_equal(host.rings.get(0, read + LEAD, 512), queued[LEAD:LEAD + 512]),
                    host)                                          # the queue past the lead was redone
    assert wait_for(lambda: host.rings.ahead(0) >= AHEAD, host)    # and topped up again
    now = host.rings.get(0, read, AHEAD)
    assert np.array_equal(now[:LEAD - SPLICE], queued[:LEAD - SPLICE])  # the lead plays as it was queued
    assert rms(now[LEAD:]) > 3 * rms(queued[LEAD:])                # then the new density, at once
    step = np.abs(np.diff(now[LEAD - SPLICE - 1:LEAD + 1], axis=0)).max()
    assert step < 0.5 * np.abs(now).max()                          # through a crossfade, not a jump
