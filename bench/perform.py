"""Benchmark: the live show. Frame time with the sampler busy, dropped frames at 60 Hz, the time to a new
postcard, memory and file descriptors across a sampler worker's SIGKILL; optionally SDL2 textures against
surface blits, frame for frame.

Frames: a headless (or, with --x11, Xvfb) window at each size, paced at 60 Hz like the live loop; the sampler
worker paints all the time (its queue never fills) with the default scene's sampler and steps; hold 0.1 s
and crossfade 3 s, so nearly every frame blends two postcards with drift (the worst case); half the run
plain crossfades, half the reveal transition. Frame time = Performance.frame() (commands, show, sampler
messages, drawing) + display.flip(), as wall time and as the main thread's CPU time (what the frame itself
costs, apart from the time other processes on a shared machine take), with the main thread's page faults
in each frame (fresh memory touched). A frame is dropped when the gap between two frame starts exceeds
1.5 / 60 s.

    .venv/bin/python -m bench.perform                                # 720p and 1080p, 20 s each (dummy video)
    .venv/bin/python -m bench.perform --seconds 300 --sizes 1920x1080    # the 5-minute run at 60 Hz
    xvfb-run -a -s "-screen 0 3840x2160x24 -nolisten tcp" .venv/bin/python -m bench.perform --x11 --sdl2
    .venv/bin/python -m bench.perform --model default               # models/default (the default when it exists)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench._perform_audio import bench_audio

FPS = 60


def parse(argv=None):
    from engine.cli.args import parse_size

    parser = argparse.ArgumentParser(prog="python -m bench.perform", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=lambda t: [parse_size(s) for s in t.split(",")],
                        default=[(1280, 720), (1920, 1080)], help="window sizes, e.g. 1280x720,1920x1080")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of frames per size (default 20)")
    parser.add_argument("--model", help="model folder name in models/, or a path (default: default, when it exists)")
    parser.add_argument("--random", metavar="PRESET", default=None,
                        help="a randomly initialised model of a training preset (default when models/default is "
                             "missing: small, the shipped preset's shape; right for timings)")
    parser.add_argument("--x11", action="store_true", help="a real X window (run under xvfb-run) instead of SDL dummy")
    parser.add_argument("--sdl2", action="store_true",
                        help="each size also with [display] renderer = sdl2 (textures) next to surface blits (--x11)")
    parser.add_argument("--frames-only", action="store_true", help="skip the sound part (bench/_perform_audio.py)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--minutes", type=float, default=3.0,
                        help="sound: minutes of live audio with a torch loop busy (the 30-minute goal: --minutes 30)")
    parser.add_argument("--audio-only", action="store_true", help="sound only: skip the frame benchmark")
    return parser.parse_args(argv)


def minor_faults() -> int:
    """The main thread's page faults so far (Linux, /proc field 10): each first touch of fresh memory costs
    ~2 us here, so a frame that allocates a big surface pays milliseconds for it."""
    return int(Path("/proc/thread-self/stat").read_text().rsplit(")", 1)[1].split()[7])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def bench_config(model: Path, scenes: Path):
    from engine.settings.config import load_config

    config = load_config()
    dawn = (Path(config.path("scenes")) / "dawn.toml").read_text()
    # The default scene's sampler and steps; the worst case for drawing: always blending, drifting, filling.
    text = dawn.replace('model = "default"', f'model = "{model}"')
    for key, value in (("hold", "0.1"), ("crossfade", "3.0"), ("frame", '"fill"'), ("drift", "0.04")):
        text = "\n".join(f"{key} = {value}" if line.split("=")[0].strip() == key else line
                         for line in text.splitlines())
    (scenes / "bench.toml").write_text(text)
    return replace(config, audio=replace(config.audio, enabled=False),
                   osc=replace(config.osc, enabled=False), oscquery=replace(config.oscquery, enabled=False),
                   midi=replace(config.midi, enabled=False),
                   sampler=replace(config.sampler, queue=256),  # never full: the worker paints all the time
                   show=replace(config.show, scene="bench", schedule=[]),
                   logging=replace(config.logging, file=""))


def frame_part(config, scenes: Path, size: tuple[int, int], seconds: float, x11: bool,
               renderer: str = "surface") -> dict:
    """Frame times at `size` with the sampler busy; the cold start to the first postcard; fds and memory."""
    import pygame

    from engine.show.controls import Command
    from engine.perform.live import open_files, rss_mib
    from engine.perform.live import Live

    if x11:
        os.environ["SDL_VIDEODRIVER"] = "x11"
    config = replace(config, display=replace(config.display, size=size, headless=not x11, vsync=False,
                                             renderer=renderer))
    performance = Live(config, scenes_dir=scenes, audio=False, controllers=False)
    began = time.monotonic()
    performance.start()
    sampler = performance.sampler
    cold = None
    while cold is None and time.monotonic() - began < 600:  # until the first postcard shows
        performance.frame(time.monotonic())
        performance.present()
        if performance.performance.renderer.busy:
            cold = time.monotonic() - began
        time.sleep(1 / FPS)
    if cold is None:
        raise SystemExit(f"no postcard in 600 s: sampler {sampler.stats}")
    clock = pygame.time.Clock()
    times, cpu, faults, starts, start = [], [], [], [], time.monotonic()
    killed, health, next_check = False, [], start + 10.0  # (seconds in, open files, RSS) every 10 s
    made, seconds_each = sampler.stats["made"], []
    faulted = minor_faults()
    while (now := time.monotonic()) - start < seconds:
        if not killed and now - start >= seconds / 2:
            # Half-way: reveal from now on, and SIGKILL the worker: the show must go on, fds stay flat.
            performance.show.submit(Command("/visual/reveal", (1,), "bench"))
            os.kill(sampler.supervisor.process.pid, signal.SIGKILL)
            killed = True
        if now >= next_check:
            health.append((now - start, open_files(), rss_mib()))
            next_check += 10.0
        work = time.thread_time()
        performance.frame(now)
        performance.present()
        times.append(time.monotonic() - now)
        cpu.append(time.thread_time() - work)  # the frame's own work, without time other processes took
        faults.append(minor_faults() - faulted)
        starts.append(now)
        if sampler.stats["made"] != made:
            made = sampler.stats["made"]
            seconds_each.append(sampler.last_seconds)
        clock.tick(FPS)
        faulted = minor_faults()  # read outside the frame's timing
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    result = {
        "size": f"{size[0]}x{size[1]}", "video": f"{pygame.display.get_driver()}, {renderer}", "frames": len(times),
        "frame_ms_p50": 1000 * statistics.median(times), "frame_ms_p99": 1000 * percentile(times, 99),
        "frame_ms_max": 1000 * max(times), "cpu_ms_p50": 1000 * statistics.median(cpu),
        "cpu_ms_p99": 1000 * percentile(cpu, 99), "faults_p99": percentile(faults, 99), "faults_max": max(faults),
        "dropped": sum(g > 1.5 / FPS for g in gaps),
        "fps": (len(times) - 1) / (starts[-1] - starts[0]),
        "cold_start_to_first_postcard_s": cold,
        "s_per_postcard": statistics.median(seconds_each) if seconds_each else float("nan"),
        "postcards_made": sampler.stats["made"], "worker_restarts": sampler.supervisor.restarts,
        # Each half by itself (crossfades, then reveals: a reveal keeps 7 scaled pictures, not 1).
        "fds_range": (min(f for _, f, _ in health), max(f for _, f, _ in health)) if health else None,
        "rss_mib_first_half": _span([r for at, _, r in health if at < seconds / 2]),
        "rss_mib_second_half": _span([r for at, _, r in health if at >= seconds / 2 + 10]),
    }
    performance.stop()
    return result


def _span(values: list[float]) -> str:
    return f"{min(values):.0f}-{max(values):.0f}" if values else "-"


def table(rows: list[dict]) -> str:
    lines = ["| size | video | frames | frame p50 ms | frame p99 ms | max ms | CPU p50 ms | CPU p99 ms | "
             "page faults/frame p99, max | dropped (60 Hz) | fps | worker SIGKILLs survived | open files min-max | RSS MiB, 1st half | "
             "RSS MiB, 2nd half |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['size']} | {r['video']} | {r['frames']} | {r['frame_ms_p50']:.2f} | "
                     f"{r['frame_ms_p99']:.2f} | {r['frame_ms_max']:.1f} | {r['cpu_ms_p50']:.2f} | "
                     f"{r['cpu_ms_p99']:.2f} | {r['faults_p99']}, {r['faults_max']} | {r['dropped']} | {r['fps']:.1f} | "
                     f"{r['worker_restarts']} | {'-' if r['fds_range'] is None else '%d-%d' % r['fds_range']} | "
                     f"{r['rss_mib_first_half']} | {r['rss_mib_second_half']} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    from bench.sample import model_folder
    from engine.settings.config import load_config
    from engine.postcards.store import describe_model, list_models

    args = parse(argv)
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    if args.audio_only:
        bench_audio(args.minutes)
        return
    if not args.model and not args.random and "default" not in list_models(load_config().path("models")):
        args.random = "small"
    rows, extra = [], {}
    with tempfile.TemporaryDirectory() as scratch:
        folder = model_folder(args, Path(scratch) / "model")
        scenes = Path(scratch) / "scenes"
        scenes.mkdir()
        config = bench_config(folder, scenes)
        info = describe_model(folder)
        for size in args.sizes:
            for renderer in ("surface", "sdl2") if args.sdl2 else ("surface",):
                rows.append(frame_part(config, scenes, size, args.seconds, args.x11, renderer))
                print(table(rows[-1:]), flush=True)
    what = f"random {args.random} preset" if args.random else str(folder)
    scene = (load_config().path("scenes") / "dawn.toml").read_text()
    print(f"\nmodel: {what}, {info['resolution']} px, {info['params'] / 1e6:.1f}M params; sampler as scene dawn "
          f"({[line for line in scene.splitlines() if line.startswith(('scheduler', 'steps'))]}); "
          f"{os.cpu_count()} cores, worker torch threads = cores - 1\n")
    print(table(rows))
    print(f"\ntime to a new postcard: {statistics.median(r['s_per_postcard'] for r in rows):.2f} s each while "
          f"drawing (median over sizes); cold start to the first postcard (worker process, imports, model "
          f"load, first postcard): {min(r['cold_start_to_first_postcard_s'] for r in rows):.1f} s")
    if args.sdl2:
        for surface, sdl2 in zip(rows[::2], rows[1::2]):
            print(f"{surface['size']}: surface blits / SDL2 textures, frame p50: "
                  f"{surface['frame_ms_p50'] / sdl2['frame_ms_p50']:.2f}x, frame p99: "
                  f"{surface['frame_ms_p99'] / sdl2['frame_ms_p99']:.2f}x")
    if not args.frames_only:
        extra["audio"] = bench_audio(args.minutes)  # the sound engineer's part: bench/_perform_audio.py
    if args.json:
        Path(args.json).write_text(json.dumps({"frames": rows, **extra, "model": what}, indent=2))


if __name__ == "__main__":
    main()
