"""Benchmark of playing with the music: the cost of the mix's features per block, and morph frames per second.

    .venv/bin/python -m bench.react                     # the figures in docs/benchmarks.md (## React)
    .venv/bin/python -m bench.react --morphs 0          # features only

1. Features (engine/mix/features.py): microseconds of CPU to analyse one block of the mix, for the live
   block (512 frames at 48 kHz) and the offline render's (1600 frames, a 30 fps frame); median of
   --repeats runs of --blocks blocks of the default jungle bed's sound, with the share of a block's
   duration it takes.
2. Zoom (the compositor, a `zoom` mapping): median and p99 ms to draw a frame at 720p and 1080p with the
   zoom still and with it moving every frame (each new zoom step scales the picture again).
3. Morph (engine/postcards/morph.py): in-between pictures painted per second with the shipped model
   (models/default) at DPM-Solver++-20, on this machine's device with the worker's threads, in batches of
   6 (what the worker paints for a transition) and of --batch; and the seconds one dream step takes.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

RATE = 48000


def feature_costs(blocks: int, repeats: int) -> dict[int, float]:
    from engine.mix.features import Features
    from engine.settings.scenes import DEFAULT_LAYERS
    from engine.sound.synth import JungleBed

    sound = JungleBed(DEFAULT_LAYERS, RATE, 7).render(1600 * blocks)
    costs = {}
    for block in (512, 1600):
        runs = []
        for _ in range(repeats):
            features = Features(RATE)
            start = time.process_time()
            for i in range(blocks):
                features.feed(sound[i * block:(i + 1) * block])
            runs.append((time.process_time() - start) / blocks)
        costs[block] = statistics.median(runs)
    return costs


def zoom_costs(frames: int = 300) -> dict:
    import os

    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    import pygame

    from engine.picture.compositor import Look, Renderer
    from engine.postcards.maker import Postcard

    pygame.display.init()
    pygame.display.set_mode((1, 1))
    picture = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    costs = {}
    for size in ((1280, 720), (1920, 1080)):
        target = pygame.Surface(size)
        for name, zoom in (("still", lambda i: 0.0), ("moving", lambda i: 0.05 + 0.05 * np.sin(i / 5))):
            renderer = Renderer()
            renderer.begin(Postcard(1, picture), 0.0, 0.0)
            times = []
            for i in range(frames):
                start = time.perf_counter()
                renderer.draw(target, i / 30, Look(frame="fill", drift=0.04, zoom=float(zoom(i))))
                times.append(time.perf_counter() - start)
            costs[size, name] = (statistics.median(times) * 1000, float(np.percentile(times, 99)) * 1000)
    return costs


def morph_rate(model: str, scheduler: str, steps: int, morphs: int, device: str, threads: int,
               batch: int) -> tuple[dict[int, float], float]:
    import torch

    from engine.postcards.maker import PREVIEWS, PostcardMaker, Recipe, torch_threads
    from engine.postcards.morph import dream, morph

    torch.set_num_threads(torch_threads(threads))
    maker = PostcardMaker(device)
    maker.use(Recipe(model, scheduler, steps))
    picture = maker.make(0)[0][0]
    morph(maker, 0, 1, 1)  # warm-up
    rates = {}
    for count in (PREVIEWS, batch):
        start = time.perf_counter()
        for k in range(morphs):
            morph(maker, k, k + 1, count)
        rates[count] = morphs * count / (time.perf_counter() - start)
    start = time.perf_counter()
    for step in range(1, 4):
        picture = dream(maker, picture, step)
    return rates, (time.perf_counter() - start) / 3


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--morphs", type=int, default=2, help="morphs painted (PREVIEWS in-betweens each)")
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--scheduler", default="dpmsolver++")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=48, help="a second morph size: in-betweens painted in one batch")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch threads; 0 = cores - 1, as the worker")
    args = parser.parse_args(argv)

    for block, seconds in feature_costs(args.blocks, args.repeats).items():
        print(f"features, {block}-frame block: {seconds * 1e6:7.1f} us CPU "
              f"({seconds / (block / RATE) * 100:.2f} % of the block's {block / RATE * 1000:.1f} ms)")
    for (size, name), (median, p99) in zoom_costs().items():
        print(f"zoom {name}, {size[0]}x{size[1]}: draw median {median:.2f} ms, p99 {p99:.2f} ms")
    if args.morphs:
        from pathlib import Path

        rates, dream_seconds = morph_rate(str(Path(args.model).resolve()), args.scheduler, args.steps, args.morphs,
                                          args.device, args.threads, args.batch)
        for count, rate in rates.items():
            print(f"morph, {args.model} {args.scheduler}-{args.steps}, {count} in-betweens a batch: "
                  f"{rate:.2f} in-betweens/s")
        print(f"dream step: {dream_seconds:.2f} s")


if __name__ == "__main__":
    main()
