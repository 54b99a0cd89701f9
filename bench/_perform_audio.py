"""The sound part of bench/perform: underruns and callback time of the live engine with the sampler busy.

Called from bench/perform.py's main (`bench_audio`); kept in its own file so that the sound engineer and the
picture engineer each change their own part. The underscore keeps `python -m bench` from running it twice.

    .venv/bin/python -m bench.perform --audio-only               # 3 minutes busy, 30 s idle yardstick
    .venv/bin/python -m bench.perform --audio-only --minutes 30   # the 30-minute goal
"""

from __future__ import annotations

import os
import sys
import threading
import time


def _busy_torch(stop, threads: int) -> None:
    """The sampler's stand-in: matrix products on `threads` torch threads until told to stop."""
    import torch

    torch.set_num_threads(threads)
    a = torch.randn(512, 512)
    while not stop.is_set():
        a = torch.tanh(a @ a * 0.01)


def _busy_python(stop) -> None:
    """A thread of pure Python: it holds the GIL whenever it runs, like a show's main loop at its worst."""
    x = 0
    while not stop.is_set():
        for i in range(1000):
            x += i * i


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _audio_phase(audio, seconds: float, log_every: float = 10.0) -> dict:
    """Run the live engine for `seconds`; every callback's time (copied out of the engine's ring of
    timings before it wraps), underruns, memory and descriptors of this process and the worker, and the
    machine's 1-minute load average at the end (the machine is shared: say how busy it was)."""
    import numpy as np

    from engine.mix.player import TIMINGS

    start = audio.stats
    seen, times, starts = start["callbacks"], [], []
    memory = []
    end = time.monotonic() + seconds
    while True:
        time.sleep(min(log_every, max(0.0, end - time.monotonic())))
        now = audio.callbacks
        if now - seen > TIMINGS:
            raise RuntimeError("callback timings wrapped before they were read")
        index = np.arange(seen, now) % TIMINGS
        times.append(audio.timings[index] * 1000)
        starts.append(audio.started[index] * 1000)
        seen = now
        memory.append((_rss_mib(os.getpid()), _open_fds(os.getpid()), _rss_mib(audio.host.pid),
                       _rss_mib(audio.player.pid)))
        if time.monotonic() >= end:
            break
    stats = audio.stats
    ms = np.concatenate(times)
    gaps = np.diff(np.concatenate(starts))  # callback start to start: 10.67 ms when on time
    load = os.getloadavg()[0]
    return dict(seconds=seconds, callbacks=stats["callbacks"] - start["callbacks"],
                expected=round(seconds * audio.samplerate / audio.block),
                underruns=stats["underruns"] - start["underruns"],
                starved=stats["ring_starved"] - start["ring_starved"],
                p50=float(np.percentile(ms, 50)), p99=float(np.percentile(ms, 99)),
                p999=float(np.percentile(ms, 99.9)), max=float(ms.max()), gap_max=float(gaps.max()),
                late=int((gaps > 1.5 * 1000 * audio.block / audio.samplerate).sum()),
                rss_first=memory[0][0], rss_last=memory[-1][0], rss_max=max(m[0] for m in memory),
                fds_first=memory[0][1], fds_last=memory[-1][1],
                worker_rss_first=memory[0][2], worker_rss_last=memory[-1][2],
                player_rss_first=memory[0][3], player_rss_last=memory[-1][3], load=load)


def bench_audio(minutes: float = 3.0, idle_seconds: float = 30.0, gil_seconds: float = 30.0,
                scene: str = "night", device: str = "") -> dict:
    """Underruns and callback time of the live sound at 48 kHz / block 512: first `idle_seconds` with
    nothing else of ours running (the yardstick), then `minutes` with a torch loop busy in another process
    (the sampler's stand-in, on cores - 1 threads), then `gil_seconds` with, on top, a pure-Python thread in
    this (the show's) process holding its GIL at Python's default switch interval; side by side in one run."""
    import multiprocessing as mp
    from dataclasses import replace

    from engine.mix.engine import AudioEngine
    from engine.settings.config import load_config
    from engine.settings.scenes import load_scene, scene_path
    from engine.postcards.maker import torch_threads

    config = load_config()
    config = replace(config, audio=replace(config.audio, samplerate=48000, blocksize=512,
                                           device=device or config.audio.device))
    the_scene = load_scene(scene_path(config.path("scenes"), scene))
    audio = AudioEngine(config, the_scene, seed=0)
    audio.start()
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    load = ctx.Process(target=_busy_torch, args=(stop, torch_threads(config.sampler.threads)), daemon=True)
    try:
        time.sleep(3.0)  # the scene fades in, the rings fill
        idle = _audio_phase(audio, idle_seconds)
        load.start()
        time.sleep(2.0)  # torch's start-up (imports, thread pool) is not the steady load we measure
        busy = _audio_phase(audio, minutes * 60)
        sys.setswitchinterval(0.005)  # Python's default
        stop_python = threading.Event()
        thread = threading.Thread(target=_busy_python, args=(stop_python,))
        thread.start()
        contended = _audio_phase(audio, gil_seconds)
        stop_python.set()
        thread.join()
    finally:
        stop.set()
        load.join(10)
        if load.is_alive():
            load.kill()
        audio.stop()
    results = {"scene": scene, "layers": len(the_scene.sound.layers), "idle": idle, "busy": busy,
               "gil": contended}
    _print_audio(results)
    return results


def _print_audio(r: dict) -> None:
    print(f"\naudio: scene {r['scene']} ({r['layers']} layers), 48 kHz, block 512 "
          f"({512 / 48:.2f} ms of sound per callback)")
    print(f"{'phase':<34}{'callbacks':>10}{'expected':>10}{'underruns':>10}{'starved':>8}"
          f"{'p50 ms':>9}{'p99 ms':>9}{'p99.9 ms':>10}{'max ms':>9}{'max gap ms':>11}{'late':>6}{'load':>6}")
    for name, label in (("idle", "no torch loop"), ("busy", "torch loop busy"),
                        ("gil", "+ Python thread in the show")):
        p = r[name]
        print(f"{label + ' ' + format(p['seconds'], '.0f') + ' s':<34}{p['callbacks']:>10}{p['expected']:>10}"
              f"{p['underruns']:>10}{p['starved']:>8}{p['p50']:>9.3f}{p['p99']:>9.3f}{p['p999']:>10.3f}"
              f"{p['max']:>9.2f}{p['gap_max']:>11.2f}{p['late']:>6}{p['load']:>6.1f}")
    b = r["busy"]
    print("ms: time inside the callback; gap: from one callback's start to the next (late: over 1.5 periods); "
          "load: the machine's 1-minute load average at the end (it is shared)")
    print(f"busy/idle callback p50 {b['p50'] / r['idle']['p50']:.2f}x, p99 {b['p99'] / r['idle']['p99']:.2f}x")
    print(f"memory over the busy run: engine RSS {b['rss_first']:.1f} -> {b['rss_last']:.1f} MiB "
          f"(max {b['rss_max']:.1f}), open fds {b['fds_first']} -> {b['fds_last']}, worker RSS "
          f"{b['worker_rss_first']:.1f} -> {b['worker_rss_last']:.1f} MiB, player RSS "
          f"{b['player_rss_first']:.1f} -> {b['player_rss_last']:.1f} MiB")
