"""Benchmark: torch's CPU threads for `postcards generate` on a quiet and on a busy machine.

On a 2-core machine torch's default (one thread a core) spins against whatever else runs; the live sampler
takes all cores but one. This runs `postcards generate` with --threads 1 and --threads 2 in turns, on a quiet
machine and with two processes spinning (busy), and prints the median wall time of each.

    .venv/bin/python -m bench.threads                  # 3 runs each, the shipped model, 8 postcards
    .venv/bin/python -m bench.threads --runs 5 --n 16
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def spin() -> None:
    while True:
        pass


def generate_seconds(threads: int, n: int) -> float:
    with tempfile.TemporaryDirectory() as out:
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "engine", "generate", "--model", "default", "--n", str(n),
                        "--threads", str(threads), "--out", out], cwd=PROJECT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.monotonic() - started


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.threads", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--n", type=int, default=8, help="postcards per run (default 8)")
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores")
    for busy in (False, True):
        spinners = [mp.Process(target=spin, daemon=True) for _ in range(os.cpu_count() or 2)] if busy else []
        for s in spinners:
            s.start()
        try:
            times = {1: [], 2: []}
            for _ in range(args.runs):
                for threads in times:  # in turns, so both see the same machine
                    times[threads].append(generate_seconds(threads, args.n))
        finally:
            for s in spinners:
                s.kill()
        one, two = statistics.median(times[1]), statistics.median(times[2])
        print(f"{'busy' if busy else 'quiet':6} --threads 1: {one:6.1f} s   --threads 2: {two:6.1f} s   "
              f"2 threads / 1 thread: {two / one:.2f}x   (median of {args.runs})")


if __name__ == "__main__":
    main()
