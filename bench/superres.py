"""Benchmark: the super-resolution stage, its time per postcard and what it adds over a bicubic upsample.

Speed: seconds per postcard, one at a time as the live worker makes them, for the base model and for the
stage (median of --repeats), at each (strength, steps) asked for.
Quality, as SWD x 1e3 at the stage's output size against the photos (whole photos, centre squares, Lanczos):
  - postcards: --n postcards of the base model, upscaled by the stage and by bicubic;
  - held-out photos: the run's held-out photos shrunk to postcard size, upscaled both ways (the stage never
    saw them), next to the photos themselves: how close to a real photo each upscale gets;
  - photos vs photos (two random halves): the yardstick.
Writes a side-by-side figure (bicubic | stage, per row) and the figures as JSON.

    .venv/bin/python -m bench.superres --stage runs/superres-1/superres \\
        --holdout-from runs/superres-1 --n 32 --out bench/results/superres
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parent.parent
DATA = PROJECT.parent / "shared" / "datasets" / "camouflage" / "images"


def parse(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.superres", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(PROJECT / "models" / "default"), help="base model folder")
    parser.add_argument("--stage", help="stage folder (default: the model's superres/)")
    parser.add_argument("--data", default=str(DATA), help="photos (default: the camouflage set)")
    parser.add_argument("--holdout-from", metavar="RUN", help="a training run folder: score its held-out photos too")
    parser.add_argument("--n", type=int, default=32, help="base postcards to upscale and score (default: 32)")
    parser.add_argument("--scheduler", default="dpmsolver++", help="base model sampler (default: dpmsolver++)")
    parser.add_argument("--steps", type=int, default=20, help="base model steps (default: 20)")
    parser.add_argument("--settings", default="", metavar="S:K,...",
                        help="extra (strength:steps) pairs to time and score beside the stage's own, e.g. 0.3:3,0.5:6")
    parser.add_argument("--repeats", type=int, default=5, help="one-postcard timings (median, default: 5)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default: 2, this machine's cores)")
    parser.add_argument("--out", default=str(PROJECT / "bench" / "results" / "superres"),
                        help="folder for figure.png, held-out.png and superres.json")
    return parser.parse_args(argv)


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bicubic(images: np.ndarray, factor: int) -> np.ndarray:
    import torch

    from engine.postcards.superres import upsample

    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    return ((upsample(x, factor) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


def shrink(images: np.ndarray, side: int) -> np.ndarray:
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(i).resize((side, side), Image.Resampling.LANCZOS)) for i in images])


def main(argv=None) -> int:
    import torch
    from PIL import Image

    from engine.postcards.generate import make_grid
    from engine.postcards.sample import sample
    from engine.postcards.schedulers import make_scheduler
    from engine.postcards.store import load_model
    from engine.postcards.superres import load_stage, upscale
    from training.superres.photos import photo_paths, split, squares
    from training.swd import swd

    args = parse(argv)
    torch.set_num_threads(args.threads)
    model = load_model(args.model, "cpu")
    stage = load_stage(args.stage or Path(args.model) / "superres", "cpu")
    f, side = stage.factor, model.resolution * stage.factor
    own = (stage.settings.start_strength, stage.settings.steps)
    variants = [own] + [tuple(float(v) if i == 0 else int(v) for i, v in enumerate(pair.split(":")))
                        for pair in args.settings.split(",") if pair]
    sched = make_scheduler(args.scheduler, model.scheduler_config)
    report = {"model": args.model, "stage": str(stage.path), "factor": f, "side": side, "threads": args.threads,
              "base": f"{args.scheduler}-{args.steps}"}

    def base(n: int, seed: int) -> np.ndarray:  # as generate paints them: the model's colour anchor, its mask
        return sample(model.unet, sched, n=n, steps=args.steps, seed=seed, anchor=model.anchor)

    one = base(1, 10_000)
    report["base_seconds"] = median_seconds(lambda: base(1, 10_000), args.repeats)
    # The photos have no mask to compare with: the postcards' RGB only from here.
    postcards = np.concatenate([base(8, s) for s in range(0, args.n, 8)])[:args.n, ..., :3]
    photos = squares(photo_paths(Path(args.data)), side)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(photos))
    half = len(photos) // 2
    report["swd_photos_vs_photos"] = swd(photos[order[:half]], photos[order[half:2 * half]]).mean
    report["swd_bicubic"] = swd(bicubic(postcards, f), photos).mean
    rows = [bicubic(postcards[:6], f)]
    held = []
    if args.holdout_from:
        run = json.loads((Path(args.holdout_from) / "run.json").read_text())
        _, held_paths = split(photo_paths(Path(run["data"])), run["holdout"])
        held = squares(held_paths, side)
        small = shrink(held, model.resolution)
        report["held_out"] = {"photos": len(held), "swd_bicubic": swd(bicubic(small, f), photos).mean,
                              "swd_photos": swd(held, photos).mean}
        held_rows = [bicubic(small[:4], f)]
    report["runs"] = []
    for strength, steps in variants:
        seconds = median_seconds(lambda: upscale(one, stage, strength=strength, steps=steps), args.repeats)
        big = upscale(postcards, stage, seed=0, strength=strength, steps=steps)
        entry = {"strength": strength, "steps": steps, "seconds": round(seconds, 3),
                 "seconds_with_base": round(seconds + report["base_seconds"], 3), "swd": swd(big, photos).mean}
        if len(held):
            ours = upscale(small, stage, seed=0, strength=strength, steps=steps)
            entry["held_out_swd"] = swd(ours, photos).mean
            entry["held_out_psnr"] = psnr(ours, held)
            held_rows.append(ours[:4])
        report["runs"].append(entry)
        rows.append(big[:6])
        print(json.dumps(entry))
    if len(held):
        report["held_out"]["psnr_bicubic"] = psnr(bicubic(small, f), held)
        held_rows.append(held[:4])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # One row per method: bicubic, then each (strength, steps); the same postcards in each column.
    Image.fromarray(make_grid(np.concatenate(rows), cols=6)).save(out / "figure.png")
    if len(held):
        Image.fromarray(make_grid(np.concatenate(held_rows), cols=4)).save(out / "held-out.png")
    (out / "superres.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}, indent=2))
    return 0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return round(float(10 * np.log10(255 ** 2 / mse)), 2)


if __name__ == "__main__":
    raise SystemExit(main())
