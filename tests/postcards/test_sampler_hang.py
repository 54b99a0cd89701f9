"""A hung sampler is noticed (issue 16, class 4): the real worker process, stopped with SIGSTOP, is killed on
its silent heartbeat and restarted, and postcards come again; a worker that ran fine for a while is
restarted at once when it dies, however often that happens."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from dataclasses import replace

import pytest

from conftest import WAIT
from engine.postcards.maker import Recipe
from engine.postcards.worker import HUNG_SECONDS, SamplerClient
from engine.processes.supervisor import Supervisor
from engine.settings.config import load_config


def postcards(client, count: int, timeout: float = WAIT) -> float:
    """Wait for `count` postcards; the seconds it took."""
    start, got = time.monotonic(), 0
    while got < count and time.monotonic() - start < timeout:
        client.poll(time.monotonic())
        if client.take() is None:
            time.sleep(0.02)
        else:
            got += 1
    assert got == count, f"{got} of {count} postcards in {timeout} s; stats {client.stats}"
    return time.monotonic() - start


@pytest.fixture
def client(tiny_model):
    config = load_config()
    config = replace(config, sampler=replace(config.sampler, queue=2, device="cpu"))
    seeds = iter(range(1000, 10**6))
    client = SamplerClient(config, lambda: next(seeds), side=32, min_delay=0.1)
    client.configure(Recipe(str(tiny_model), "dpmsolver++", 3))
    yield client
    client.close()


def test_a_stopped_worker_is_killed_on_its_silent_heartbeat_and_postcards_come_again(client, caplog):
    postcards(client, 2)
    stopped = client.supervisor.process.pid
    os.kill(stopped, signal.SIGSTOP)  # alive, holding its slots, painting nothing: before, never noticed
    try:
        while client.take() is not None:  # what was ready before the stop
            pass
        waited = postcards(client, 1)
    finally:
        try:
            os.kill(stopped, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert client.watch.kills == 1 and client.supervisor.restarts == 1
    assert client.supervisor.process.pid != stopped
    assert waited > HUNG_SECONDS - 1
    assert "no heartbeat" in caplog.text


def test_a_spare_worker_stands_by_and_takes_over_when_the_worker_dies(client):
    postcards(client, 1)
    assert wait(lambda: client._spare is not None and client._spare[0].is_alive(), client)
    spare, dead = client._spare[0].pid, client.supervisor.process.pid
    os.kill(dead, signal.SIGKILL)
    while client.take() is not None:
        pass
    postcards(client, 1)
    # A postcard the dead worker had sent may come first: wait until the supervisor has seen the death.
    assert wait(lambda: client.supervisor.process is not None and client.supervisor.process.pid != dead, client)
    assert client.supervisor.process.pid == spare  # torch was imported already: no fresh start to wait for
    assert wait(lambda: client._spare is None or client._spare[0].pid != spare, client)


def wait(condition, client, seconds: float = 30.0) -> bool:
    end = time.monotonic() + seconds
    while not condition() and time.monotonic() < end:
        client.poll(time.monotonic())
        time.sleep(0.02)
    return condition()


def _runs():
    time.sleep(60)


def test_a_worker_that_ran_fine_is_restarted_at_once_every_time():
    ctx = mp.get_context("fork")
    supervisor = Supervisor("test", lambda: _start(ctx), min_delay=0.1, max_delay=8.0, stable_after=0.3)
    supervisor.launch(time.monotonic())
    try:
        delays = []
        for _ in range(4):
            time.sleep(0.4)  # it runs fine for longer than stable_after; nobody checks meanwhile
            supervisor.process.kill()
            supervisor.process.join()
            now = time.monotonic()
            supervisor.check(now)  # noticed dead
            delays.append(supervisor._restart_at - now)
            assert supervisor.check(supervisor._restart_at)
        assert delays == pytest.approx([0.1] * 4)  # before: 0.1, 0.2, 0.4, 0.8 (the back-off grew to 8 s)
    finally:
        supervisor.stop()


def _start(ctx):
    process = ctx.Process(target=_runs, daemon=True)
    process.start()
    return process
