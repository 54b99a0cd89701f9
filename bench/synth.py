"""Benchmark of the embedded jungle synth: real-time factor of the full bed, and memory over an hour.

    .venv/bin/python -m bench.synth                  # the figures in docs/benchmarks.md (## Synth)
    .venv/bin/python -m bench.synth --stream-s 600   # a shorter memory run

1. Real-time factor (seconds of audio per second of the process's CPU time, all threads counted) of the
   default bed (all six voices) at 48 kHz, rendered in the live mixer's 512-frame blocks and in 1 s
   blocks, and of each voice alone; medians of --repeats runs of --seconds each.
2. Memory: --stream-s seconds (an hour by default) streamed in 512-frame blocks as fast as the CPU goes,
   resident memory (RSS) before, then after every minute of audio: first, end, max (flat = no growth
   after the buffers are first touched).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from engine.settings.scenes import DEFAULT_LAYERS, LayerSettings
from engine.sound.synth import JungleBed

RATE = 48000


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def real_time_factor(layers: dict[str, LayerSettings], seconds: float, block: int, seed: int) -> float:
    bed = JungleBed(layers, RATE, seed)
    frames = round(seconds * RATE)
    start = time.process_time()  # CPU time of this process: fair on a shared machine
    for _ in range(frames // block):
        bed.render(block)
    return frames // block * block / RATE / (time.process_time() - start)


def stream(seconds: float, block: int = 512) -> dict:
    """Stream the default bed; RSS before it starts, then after every minute of audio."""
    bed = JungleBed(DEFAULT_LAYERS, RATE, seed=0)
    minute = 60 * RATE // block
    before, per_minute, start_wall = rss_mib(), [], time.perf_counter()
    for i in range(1, round(seconds * RATE / block) + 1):
        bed.render(block)
        if i % minute == 0:
            per_minute.append(rss_mib())
    wall = time.perf_counter() - start_wall
    ten = max(1, min(10, len(per_minute) // 2))
    return dict(audio_s=seconds, wall_s=wall, before=before, first_minute=per_minute[0], end=per_minute[-1],
                max=max(per_minute), min_after_first=min(per_minute[1:] or per_minute), samples=len(per_minute),
                ten=ten, first_ten=statistics.mean(per_minute[:ten]), last_ten=statistics.mean(per_minute[-ten:]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="audio per timing run")
    parser.add_argument("--repeats", type=int, default=5, help="timing runs per row (median)")
    parser.add_argument("--stream-s", type=float, default=3600.0, help="audio streamed for the memory run")
    args = parser.parse_args(argv)

    print(f"## Synth real-time factor at {RATE} Hz (median of {args.repeats} x {args.seconds:g} s of "
          f"process CPU time)\n")
    print("| what | block | real-time factor |\n|---|---|---|")
    rows = [("full bed, six voices", DEFAULT_LAYERS, 512), ("full bed, six voices", DEFAULT_LAYERS, RATE)]
    rows += [(f"{name} alone", {name: layer}, 512) for name, layer in DEFAULT_LAYERS.items()]
    for label, layers, block in rows:
        factors = [real_time_factor(layers, args.seconds, block, seed) for seed in range(args.repeats)]
        print(f"| {label} | {block} | {statistics.median(factors):.0f}x "
              f"(min {min(factors):.0f}x, max {max(factors):.0f}x) |", flush=True)

    result = stream(args.stream_s)
    print(f"\n## Memory while streaming {result['audio_s'] / 60:.0f} min of the full bed in 512-frame blocks\n")
    print(f"rendered in {result['wall_s']:.0f} s wall ({result['audio_s'] / result['wall_s']:.0f}x real time "
          f"on a shared machine); RSS before streaming {result['before']:.1f} MiB; sampled after each of "
          f"{result['samples']} minutes of audio: after the first {result['first_minute']:.1f} MiB, "
          f"at the end {result['end']:.1f} MiB, max {result['max']:.1f} MiB, "
          f"min after the first {result['min_after_first']:.1f} MiB; mean of the first {result['ten']} minutes "
          f"{result['first_ten']:.1f} MiB, of the last {result['ten']} {result['last_ten']:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
