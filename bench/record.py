"""Benchmark of recording: offline render speed, and what recording costs a live show.

    .venv/bin/python -m bench.record                        # the figures in docs/benchmarks.md (## Recording)
    .venv/bin/python -m bench.record --seconds 10 --live-seconds 10 --rounds 1   # a quick look

1. Offline: the loop of `postcards render` (engine.perform.offline.render_show) on the dawn scene (hold 8 s,
   crossfade 3 s, drift, letterbox, its three synth layers) for --seconds of show at 720p30 and 1080p30,
   with the configured libx264 preset and with ultrafast, --repeats times each (interleaved): speed as show
   seconds per wall second (x real time; median), and the share of drawing (postcards painted inline
   included) and of the sound.
2. Live: a headless Performance paced at display.fps on a 1280x720 window with its sampler worker, in
   --rounds alternating stretches of --live-seconds: without recording, recording 720p30 (the encoder
   thread and libx264's at nice +10, as always), and recording with the encoder at the show's own priority
   (nice 0, for comparison): the render thread's frame time (median, p99, max), show frames over their
   1/fps budget, and frames the recorder dropped.
3. Where to scale a 1080p window down to a 720p recording: on the render thread or on the encoder thread.

The model: --model, else models/default when the project ships it, else an untrained UNet of the `small`
preset (the shipped model's shape: the same cost per postcard; said so in the output).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from engine.settings.config import PROJECT_ROOT, load_config  # noqa: E402

SIZES = {"720p30": (1280, 720), "1080p30": (1920, 1080)}


def bench_scene(folder: Path, model: str | None) -> tuple[Path, str]:
    """A scenes folder holding the dawn scene on the chosen model; and a line saying which model."""
    shipped = PROJECT_ROOT / "models" / "default"
    if model is None and (shipped / "unet").is_dir():
        model = str(shipped)
    if model is None:
        from diffusers import DDPMPipeline, DDPMScheduler

        from training.presets import make_unet

        model = str(folder / "small")
        DDPMPipeline(unet=make_unet("small", 64), scheduler=DDPMScheduler()).save_pretrained(model)
        label = "an untrained UNet of the small preset (the shipped model's shape, so its cost per postcard)"
    else:
        label = model
    scenes = folder / "scenes"
    scenes.mkdir()
    text = (PROJECT_ROOT / "scenes" / "dawn.toml").read_text().replace('model = "default"', f'model = "{model}"')
    (scenes / "dawn.toml").write_text(text)
    return scenes, label


def offline(config, scenes: Path, folder: Path, seconds: float, repeats: int) -> list[dict]:
    """Each size and preset rendered `repeats` times, interleaved; the run of median speed is reported."""
    from engine.perform.offline import render_show

    runs: dict[tuple[str, str], list] = {}
    for _ in range(repeats):
        for name, size in SIZES.items():
            for preset in dict.fromkeys((config.recording.preset, "ultrafast")):
                run = replace(config, recording=replace(config.recording, preset=preset))
                result = render_show(run, scene="dawn", duration=seconds, out=folder / f"{name}-{preset}.mp4",
                                     size=size, fps=30, seed=0, scenes_dir=scenes, progress=False)
                runs.setdefault((name, preset), []).append(result)
                print(f"  offline {name} {preset}: {result.speed:.2f}x real time", flush=True)
    rows = []
    for (name, preset), results in runs.items():
        result = sorted(results, key=lambda r: r.speed)[len(results) // 2]
        rows.append(dict(size=name, preset=preset, speed=result.speed, wall=result.wall_seconds,
                         draw=result.draw_seconds, sound=result.sound_seconds, postcards=result.postcards,
                         dropped=result.recording.dropped, all=[r.speed for r in results]))
    return rows


def live(config, scenes: Path, folder: Path, seconds: float, rounds: int) -> dict[str, dict]:
    from engine.perform.live import Live
    from engine.record import writer

    config = replace(config, display=replace(config.display, size=(1280, 720), headless=True),
                     recording=replace(config.recording, size=(1280, 720), fps=30))
    budget = 1.0 / config.display.fps
    # Recording stretches: the encoder at its usual lowered priority, and at the show's own (nice 0).
    niceness = {"without recording": None, "recording 720p30": writer.WRITER_NICE,
                "recording 720p30, encoder at nice 0": 0}
    times: dict[str, list[float]] = {label: [] for label in niceness}
    dropped = dict.fromkeys(niceness, 0)
    recorded = dict.fromkeys(niceness, 0)
    performance = Live(config, "dawn", scenes_dir=scenes, audio=False, controllers=False)
    performance.start()
    try:
        began = time.monotonic()
        while performance.show.shown_at is None and time.monotonic() - began < 120:
            performance.run(1.0)  # until the sampler worker has loaded its model and painted
        performance.run(2.0)
        for i in range(rounds):
            for label, nice in niceness.items():
                if nice is not None:
                    writer.WRITER_NICE = nice
                    performance.record(folder / f"live-{i}-{nice}.mp4")
                performance.performance.frame_times.clear()
                performance.run(seconds)
                times[label].extend(performance.performance.frame_times)
                recorder = performance.recording.recorder
                if recorder is not None:
                    dropped[label] += recorder.dropped
                    recorded[label] += recorder.frames
                    performance.recording.stop()
                print(f"  live round {i + 1} {label}: {len(performance.performance.frame_times)} frames", flush=True)
    finally:
        writer.WRITER_NICE = niceness["recording 720p30"]
        performance.stop()
    result = {}
    for label, values in times.items():
        ms = sorted(v * 1000 for v in values)
        result[label] = dict(frames=len(ms), median=statistics.median(ms), p99=ms[int(0.99 * (len(ms) - 1))],
                             max=ms[-1], over=sum(v > budget * 1000 for v in ms))
        if niceness[label] is not None:
            result[label].update(dropped=dropped[label], recorded=recorded[label])
    return result


def scaling(repeats: int = 40) -> list[tuple[str, float, float]]:
    """A 1080p window recorded at 720p: scale on the render thread (smoothscale, then 720p bytes) or hand
    over the 1080p bytes and let the encoder thread scale (swscale in VideoFrame.reformat)? Median ms on
    the render thread and on the encoder thread for each way."""
    import av
    import numpy as np
    import pygame

    pygame.display.init()
    noise = np.random.default_rng(0).integers(0, 255, (1920, 1080, 3), dtype=np.uint8)
    window = pygame.surfarray.make_surface(noise)

    def ms(action) -> float:
        times = []
        for _ in range(repeats):
            began = time.perf_counter()
            action()
            times.append((time.perf_counter() - began) * 1000)
        return statistics.median(times)

    small = pygame.image.tobytes(pygame.transform.smoothscale(window, (1280, 720)), "RGB")
    full = pygame.image.tobytes(window, "RGB")
    frame_small = av.VideoFrame.from_ndarray(np.frombuffer(small, np.uint8).reshape(720, 1280, 3), format="rgb24")
    frame_full = av.VideoFrame.from_ndarray(np.frombuffer(full, np.uint8).reshape(1080, 1920, 3), format="rgb24")
    return [
        ("smoothscale on the render thread",
         ms(lambda: pygame.image.tobytes(pygame.transform.smoothscale(window, (1280, 720)), "RGB")),
         ms(lambda: frame_small.reformat(1280, 720, "yuv420p", interpolation="BILINEAR"))),
        ("swscale on the encoder thread (chosen)",
         ms(lambda: pygame.image.tobytes(window, "RGB")),
         ms(lambda: frame_full.reformat(1280, 720, "yuv420p", interpolation="BILINEAR"))),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="show seconds per offline render")
    parser.add_argument("--repeats", type=int, default=3, help="offline renders of each kind (median)")
    parser.add_argument("--live-seconds", type=float, default=15.0, help="seconds per live stretch")
    parser.add_argument("--rounds", type=int, default=3, help="live stretches of each kind, alternating")
    parser.add_argument("--model", help="model folder (default: models/default, else an untrained small-preset UNet)")
    args = parser.parse_args(argv)
    config = load_config()
    with tempfile.TemporaryDirectory(prefix="bench-record-") as tmp:
        folder = Path(tmp)
        scenes, label = bench_scene(folder, args.model)
        print(f"model: {label}; preset from config.toml: {config.recording.preset}; {os.cpu_count()} cores",
              flush=True)
        scaled = scaling()
        rows = offline(config, scenes, folder, args.seconds, args.repeats)
        frames = live(config, scenes, folder, args.live_seconds, args.rounds)
    print(f"\nOffline render, {args.seconds:g} s of the dawn scene, 30 fps, median of {args.repeats}")
    print("| size | preset | x real time | all runs | wall s | drawing s | postcards | sound s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['size']} | {r['preset']} | {r['speed']:.2f} | {', '.join(f'{x:.2f}' for x in r['all'])} | "
              f"{r['wall']:.1f} | {r['draw']:.1f} | {r['postcards']} | {r['sound']:.1f} |")
    fps = config.display.fps
    print(f"\nLive at {fps} fps, 1280x720 window, {args.rounds} x {args.live_seconds:g} s each, alternating")
    print(f"| | frames | frame ms median | p99 | max | over {1000 / fps:.1f} ms | recorder dropped |")
    print("|---|---|---|---|---|---|---|")
    for label, f in frames.items():
        drops = f"{f['dropped']} of {f['recorded'] + f['dropped']}" if "dropped" in f else "-"
        print(f"| {label} | {f['frames']} | {f['median']:.2f} | {f['p99']:.2f} | {f['max']:.1f} | {f['over']} | "
              f"{drops} |")
    print("\nA 1080p window recorded at 720p: where to scale (median ms per frame)")
    print("| way | render thread | encoder thread |")
    print("|---|---|---|")
    for way, render_ms, encoder_ms in scaled:
        print(f"| {way} | {render_ms:.2f} | {encoder_ms:.2f} |")
    base, rec = frames["without recording"], frames["recording 720p30"]
    print(f"\nframe time with / without recording: median {rec['median'] / base['median']:.2f}x, "
          f"p99 {rec['p99'] / base['p99']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
