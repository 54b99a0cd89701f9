"""Benchmark: how close to the photos can a postcard of S px, brought to the finished size, get?

Half of the photos (centre squares) are shrunk to each --via size and brought back to --side px by bicubic
and by each --stage asked for; each result is scored against the *other* half with SWD x 1e3 per pyramid
level, beside the photos themselves (the yardstick). A perfect base model paints postcards like the shrunk
photos, so these rows are the best its finished postcards can score through that upscale: the ceiling.
The stages were trained on most of these photos (all but their run's held-out ones): their rows say what a
stage does to a photo-like postcard, not how well it generalises (bench/superres.py's held-out rows do).

    .venv/bin/python -m bench.ceiling --via 64,128 --stage models/default/superres \\
        --out bench/results/ceiling.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bench.superres import DATA, bicubic, shrink
from training.superres.__main__ import whole_numbers


def parse(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.ceiling", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DATA), help="photos (default: the camouflage set)")
    parser.add_argument("--side", type=int, default=256, help="finished postcard size (default: 256)")
    parser.add_argument("--via", type=whole_numbers, default=[64, 128], metavar="S1,S2",
                        help="postcard sizes to shrink to (default: 64,128)")
    parser.add_argument("--stage", action="append", default=[], metavar="DIR",
                        help="a super-resolution stage folder to upscale with as well (repeatable); it is used "
                             "from the --via size its factor fits")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default: 2)")
    parser.add_argument("--out", help="write the figures as JSON here too")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    import torch

    from engine.postcards.superres import load_stage, upscale
    from training.superres.photos import photo_paths, squares
    from training.swd import swd

    args = parse(argv)
    torch.set_num_threads(args.threads)
    photos = squares(photo_paths(Path(args.data)), args.side)
    order = np.random.default_rng(0).permutation(len(photos))
    half = len(photos) // 2
    ours, reference = photos[order[:half]], photos[order[half:2 * half]]
    rows = []

    def score(name: str, images: np.ndarray, seconds: float | None = None) -> None:
        result = swd(images, reference, seed=0)
        row = {"upscale": name, "levels": {k: round(v, 1) for k, v in result.levels.items()},
               "mean": round(result.mean, 1), "seconds": seconds}
        rows.append(row)
        print(json.dumps(row), flush=True)

    score("photos themselves (yardstick)", ours)
    for via in args.via:
        small = shrink(ours, via)
        score(f"{via} px, bicubic", bicubic(small, args.side // via))
        for folder in args.stage:
            stage = load_stage(folder)
            if via * stage.factor != args.side:
                continue
            start = time.perf_counter()
            big = upscale(small, stage, seed=0)
            score(f"{via} px, stage {folder} ({stage.settings.factor}x x {stage.settings.passes})", big,
                  round((time.perf_counter() - start) / len(small), 3))
    if args.out:
        Path(args.out).write_text(json.dumps({"side": args.side, "photos_per_side": half, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
