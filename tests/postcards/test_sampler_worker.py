"""The sampler worker: postcards through shared memory, the same pixels as inline sampling, restarts after
SIGKILL with back-off, a broken model reported without harm."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from dataclasses import replace

import numpy as np
import pytest

from engine.postcards.maker import Recipe, preview_steps, torch_threads
from engine.postcards.store import model_side
from engine.postcards.inline import InlineSampler
from engine.postcards.slots import SlotPool
from engine.postcards.worker import SamplerClient
from engine.processes.supervisor import Supervisor
from engine.settings.config import load_config

WAIT = 120.0  # seconds: a worker imports torch and diffusers first, on a busy 2-core machine


def wait_for(client, count, timeout=WAIT):
    got, end = [], time.monotonic() + timeout
    while len(got) < count and time.monotonic() < end:
        client.poll(time.monotonic())
        postcard = client.take()
        if postcard is None:
            time.sleep(0.02)
        else:
            got.append(postcard)
    assert len(got) == count, f"only {len(got)} of {count} postcards in {timeout} s; stats {client.stats}"
    return got


@pytest.fixture(scope="module")
def config():
    config = load_config()
    return replace(config, sampler=replace(config.sampler, queue=2, device="cpu"))


RECIPE = ("dpmsolver++", 5)


@pytest.fixture
def client(config, tiny_model):
    """A worker of its own for each test, already told what to paint: a test that ran before leaves it no
    recipe to rely on (run alone, the restart test used to wait for postcards nobody had asked for)."""
    seeds = iter(range(1000, 10**6))
    client = SamplerClient(config, lambda: next(seeds), side=32, min_delay=0.1)
    client.configure(Recipe(str(tiny_model), *RECIPE))
    yield client
    client.close()


def test_postcards_arrive_with_previews_and_match_inline_sampling(client, config, tiny_model):
    recipe = Recipe(str(tiny_model), *RECIPE)
    first, second = wait_for(client, 2)
    assert (first.seed, second.seed) == (1000, 1001)
    assert first.image.shape == (32, 32, 3) and first.image.dtype == np.uint8
    assert len(first.previews) == len(preview_steps(5)) and first.previews[0].shape == (32, 32, 3)
    assert not np.array_equal(first.image, second.image)
    inline = InlineSampler(config, iter([1000]).__next__)
    inline.configure(recipe)
    again = inline.take()
    np.testing.assert_array_equal(again.image, first.image)  # a worker process and inline agree exactly
    np.testing.assert_array_equal(again.previews[-1], first.previews[-1])


def test_a_sigkilled_worker_comes_back_and_new_postcards_follow(client):
    wait_for(client, 1)
    old = client.supervisor.process.pid
    os.kill(old, signal.SIGKILL)
    time.sleep(0.2)
    seeds = [p.seed for p in wait_for(client, 3)]
    assert client.supervisor.restarts >= 1 and client.supervisor.process.pid != old
    assert seeds == sorted(seeds) and len(set(seeds)) == 3  # the seeds in flight were asked for again


def test_a_broken_model_is_reported_and_a_good_one_recovers(client, tiny_model, tmp_path, caplog):
    broken = tmp_path / "broken"
    (broken / "unet").mkdir(parents=True)
    (broken / "scheduler").mkdir()
    (broken / "unet" / "config.json").write_text((tiny_model / "unet" / "config.json").read_text())
    (broken / "scheduler" / "scheduler_config.json").write_text(
        (tiny_model / "scheduler" / "scheduler_config.json").read_text())
    (broken / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"not weights")
    client.configure(Recipe(str(broken), "ddim", 4))
    end = time.monotonic() + WAIT
    while client.stats["errors"] == 0 and time.monotonic() < end:
        client.poll(time.monotonic())
        time.sleep(0.05)
    assert client.stats["errors"] >= 1 and "broken" in caplog.text
    assert client.supervisor.process.is_alive()  # the worker survives a bad model
    client.configure(Recipe(str(tiny_model), "unipc", 4))
    assert wait_for(client, 1)[0].recipe.scheduler == "unipc"


def _exit_soon():
    raise SystemExit(3)


def test_supervisor_backs_off_exponentially_and_forgives_a_stable_worker():
    ctx = mp.get_context("fork")
    supervisor = Supervisor("test", lambda: _started(ctx), min_delay=1.0, max_delay=4.0, stable_after=100.0)
    supervisor.launch(0.0)
    supervisor.process.join()
    delays, now = [], 0.0
    for _ in range(4):
        assert not supervisor.check(now)          # noticed dead: restart scheduled
        due = supervisor._restart_at
        delays.append(due - now)
        assert not supervisor.check(due - 0.01)   # not before its time
        assert supervisor.check(due)              # restarted
        supervisor.process.join()
        now = due
    assert delays == [1.0, 2.0, 4.0, 4.0] and supervisor.restarts == 4
    supervisor.stop()


def test_a_worker_that_cannot_start_is_tried_again_later():
    attempts = []

    def start():
        attempts.append(1)
        if len(attempts) == 2:
            raise OSError("no more processes")
        return _started(mp.get_context("fork"))

    supervisor = Supervisor("test", start, min_delay=1.0, max_delay=8.0)
    supervisor.launch(0.0)
    supervisor.process.join()
    supervisor.check(0.0)
    assert not supervisor.check(1.0) and supervisor.process is None  # the start failed: no crash
    assert not supervisor.check(2.9)
    assert supervisor.check(3.0)  # 1 + 2 s later, the third start
    supervisor.process.join()
    supervisor.stop()


def _started(ctx):
    process = ctx.Process(target=_exit_soon)
    process.start()
    return process


def test_slots_round_trip_and_helpers(tiny_model):
    pool = SlotPool.create(count=2, frames=3, side=8)
    try:
        picture = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
        pool.write(1, 2, picture)
        copy = pool.read(1, 2, 4, 6)
        pool.write(1, 2, np.zeros_like(picture))
        np.testing.assert_array_equal(copy, picture)  # a read is a private copy
    finally:
        pool.close()
    assert preview_steps(20) == [0, 3, 6, 10, 13, 16] and preview_steps(1) == []
    assert model_side(tiny_model) == 32 and model_side(tiny_model / "nothing") is None
    assert torch_threads(3) == 3 and torch_threads(0) == max(1, os.cpu_count() - 1)
