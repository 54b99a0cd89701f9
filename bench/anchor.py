"""Benchmark: the colour anchor (engine/postcards/anchor.py) on a model, off and at several depths, side by side.

The same postcards (same seeds, sampler and steps) of the model's base stage are scored against the photos
at the model's resolution with `postcards evaluate`'s figures: colour distance, cast rate, SWD, near-copies,
and the spread of the postcards' mean colours (bench/recipes.py). Each row anchors the mean colour while
the timestep is >= T (the photos' mean colours as training exports them); "off" is the model on its own.
A grid of each row's first 16 postcards goes to --out.

    .venv/bin/python -m bench.anchor --model models/default --n 50 --depths off,700,500,300,0
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.recipes import DATA, mean_colour_spread

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def parse(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.anchor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(PROJECT_ROOT / "models" / "default"))
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--depths", default="off,700,500,300,0", help="timesteps T, or off (default: %(default)s)")
    parser.add_argument("--samplers", default="dpmsolver++:20", metavar="S:K,...")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(PROJECT_ROOT / "bench" / "results" / "anchor"))
    return parser.parse_args(argv)


def main(argv=None) -> None:
    import torch
    from PIL import Image

    from engine.postcards.anchor import ColourAnchor
    from engine.postcards.generate import make_grid
    from engine.postcards.sample import sample
    from engine.postcards.schedulers import make_scheduler
    from engine.postcards.store import load_model
    from training.data import load_images
    from training.evaluate import evaluate, training_photos

    args = parse(argv)
    torch.set_num_threads(args.threads)
    model = load_model(args.model, "cpu")
    photos = training_photos(load_images(args.data, model.resolution).pixels, model.resolution)
    colours = photos[..., :3].reshape(len(photos), -1, 3).mean(axis=1) / 255
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for spec in args.samplers.split(","):
        name, steps = spec.split(":")
        for depth in args.depths.split(","):
            anchor = None if depth == "off" else ColourAnchor(colours=colours, down_to=int(depth))
            postcards = sample(model.unet, make_scheduler(name, model.scheduler_config), n=args.n,
                               steps=int(steps), seed=0, anchor=anchor)
            report = evaluate(postcards, photos, seed=0)
            row = {"sampler": spec, "anchor": depth, "colour_x1e3": report["colour"]["frechet_x1e3"],
                   "cast_rate": report["colour"]["cast_rate"], "swd_x1e3": report["swd_x1e3"],
                   "near_copies": len(report["memorization"]["near_copies"]),
                   "mean_colour_spread": mean_colour_spread(postcards), "postcards": args.n}
            rows.append(row)
            Image.fromarray(make_grid(postcards[:16, :, :, :3], cols=8)).save(out / f"{name}-{depth}.png")
            print(f"{spec:14s} anchor {depth:>4s}: colour {row['colour_x1e3']['postcards_vs_photos']:.1f} "
                  f"(photos {row['colour_x1e3']['photos_vs_photos']:.1f}), casts {row['cast_rate']['postcards']:.0%}, "
                  f"SWD {row['swd_x1e3']['model_vs_photos']['mean']:.1f} "
                  f"(photos {row['swd_x1e3']['photos_vs_photos']['mean']:.1f}), near-copies {row['near_copies']}, "
                  f"spread {row['mean_colour_spread']:.3f} (photos {mean_colour_spread(photos):.3f})", flush=True)
    (out / "anchor.json").write_text(json.dumps({"model": args.model, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
