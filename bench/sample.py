"""Benchmark: few-step samplers against DDPM-1000 on one model, side by side in one run.

For ddpm-1000, ddim-50, dpmsolver++-20 and unipc-10, and the scenes' ddpm-25 and ddim-25: UNet calls per postcard, seconds per postcard one at a
time (as the live sampler worker makes them, on `--threads` torch threads), batched throughput, and SWD
(x 1e3) of a batch of postcards against as many training photos, next to the photos-vs-photos yardstick.

    .venv/bin/python -m bench.sample                      # models/default if it exists, else a random tiny model
    .venv/bin/python -m bench.sample --random tiny        # CI speed: timings and calls (SWD of noise)
    .venv/bin/python -m bench.sample --random small       # the shipped preset's shape, random weights: timings
    .venv/bin/python -m bench.sample --model default --n 16
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from engine.settings.config import PROJECT_ROOT

# The four, then the two the shipped scenes use (25 steps: 40x fewer calls than ddpm-1000).
RUNS = (("ddpm", 1000), ("ddim", 50), ("dpmsolver++", 20), ("unipc", 10), ("ddpm", 25), ("ddim", 25))
DATA = PROJECT_ROOT.parent / "shared" / "datasets" / "camouflage" / "images"


def parse(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.sample", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model folder name in models/, or a path (default: default, when it exists)")
    parser.add_argument("--random", metavar="PRESET", help="instead: a randomly initialised model of a training "
                        "preset (tiny, small, small-128, base): right for timings, meaningless for SWD")
    parser.add_argument("--data", default=str(DATA), help="training photos for SWD (default: the camouflage set)")
    parser.add_argument("--n", type=int, default=16, help="postcards per sampler for throughput and SWD (default: 16)")
    parser.add_argument("--batch", type=int, default=16, help="postcards per UNet call when batched (default: 16)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default: 1, what the live worker gets on this 2-core machine)")
    parser.add_argument("--repeats", type=int, default=3, help="one-postcard timings per few-step sampler (median)")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    return parser.parse_args(argv)


def model_folder(args, scratch: Path) -> Path:
    """The model to measure: a random one of a preset saved like a trained one, or a folder from the store."""
    from engine.settings.config import load_config
    from engine.postcards.store import resolve_model

    models = load_config().path("models")
    if not args.random and not args.model and not (models / "default").is_dir():
        args.random = "tiny"  # nothing trained yet: measure the CI-sized model rather than fail
    if args.random:
        from diffusers import DDPMPipeline, DDPMScheduler

        from training.presets import get_preset, make_unet

        unet = make_unet(args.random, get_preset(args.random).resolution)
        DDPMPipeline(unet=unet, scheduler=DDPMScheduler(num_train_timesteps=1000)).save_pretrained(scratch)
        return scratch
    return resolve_model(args.model or "default", models)


def photo_sets(data: str, resolution: int, n: int):
    """Two disjoint random sets of `n` training photos: the reference, and the yardstick's other half."""
    import numpy as np

    from training.data import load_images
    from training.evaluate import training_photos

    if not Path(data).is_dir():
        return None, None
    photos = training_photos(load_images(data, resolution).pixels, resolution)
    order = np.random.default_rng(0).permutation(len(photos))
    if len(photos) < 2 * n:
        raise SystemExit(f"--data {data}: expected at least {2 * n} photos for --n {n}, found {len(photos)}")
    return photos[order[:n]], photos[order[n:2 * n]]


def measure(model, name: str, steps: int, args, reference) -> dict:
    import torch

    from engine.postcards.generate import generate
    from engine.postcards.sample import sample
    from engine.postcards.schedulers import make_scheduler
    from training.swd import swd

    scheduler = make_scheduler(name, model.scheduler_config)
    calls = []
    hook = model.unet.register_forward_hook(lambda *_: calls.append(1))
    sample(model.unet, scheduler, n=1, steps=2, seed=0)  # warm-up: first calls pay for allocations
    seconds = []
    for repeat in range(1 if name == "ddpm" else args.repeats):
        calls.clear()
        start = time.perf_counter()
        sample(model.unet, scheduler, n=1, steps=steps, seed=repeat)
        seconds.append(time.perf_counter() - start)
    hook.remove()
    start = time.perf_counter()
    postcards = generate(model, scheduler=name, n=args.n, steps=steps, seed=1000, batch=args.batch)
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    batched = time.perf_counter() - start
    return {"sampler": f"{name}-{steps}", "unet_calls": len(calls), "s_per_postcard": statistics.median(seconds),
            "batched_postcards_per_s": args.n / batched,
            "swd_x1e3": swd(postcards, reference).mean if reference is not None else None}


def table(rows: list[dict], yardstick: float | None) -> str:
    base = rows[0]
    lines = ["| sampler | UNet calls | fewer calls than ddpm-1000 | s per postcard (batch 1) | ms per call | "
             "speed-up | batched postcards/s | SWD x1e3 |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        swd = "-" if r["swd_x1e3"] is None else f"{r['swd_x1e3']:.0f}"
        lines.append(f"| {r['sampler']} | {r['unet_calls']} | {base['unet_calls'] / r['unet_calls']:.0f}x | "
                     f"{r['s_per_postcard']:.2f} | {1000 * r['s_per_postcard'] / r['unet_calls']:.0f} | "
                     f"{base['s_per_postcard'] / r['s_per_postcard']:.0f}x | "
                     f"{r['batched_postcards_per_s']:.2f} | {swd} |")
    if yardstick is not None:
        lines.append(f"| *photos vs photos (yardstick)* | | | | | | | {yardstick:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    import torch

    from engine.postcards.store import describe_model, load_model
    from training.swd import swd

    args = parse(argv)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        folder = model_folder(args, Path(scratch))
        info = describe_model(folder)
        model = load_model(folder, args.device)
    reference, other = photo_sets(args.data, model.resolution, args.n)
    rows = [measure(model, name, steps, args, reference) for name, steps in RUNS]
    yardstick = swd(other, reference).mean if reference is not None else None
    what = f"random {args.random} preset" if args.random else str(folder)
    print(f"\nmodel: {what}, {info['resolution']} px, {info['params'] / 1e6:.1f}M params; device {model.device}, "
          f"{torch.get_num_threads()} torch thread(s); batched: {args.n} postcards, batch {args.batch}; "
          f"SWD: {args.n} postcards vs {args.n} photos\n")
    print(table(rows, yardstick))
    if args.json:
        Path(args.json).write_text(json.dumps({"model": what, "rows": rows, "yardstick_swd_x1e3": yardstick,
                                               "args": vars(args)}, indent=2))


if __name__ == "__main__":
    main()
