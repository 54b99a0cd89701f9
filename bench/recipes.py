"""Benchmark: the training recipes of issue 13 side by side, in equal wall time on the same data.

Each row trains the small preset with `python -m training` for the same number of minutes (one CPU thread
each, `--parallel` rows at once, nice'd), with the same step budget for its LR schedule, seed, data and
data order; then 100 postcards of each are scored against the photos: colour distance and cast rate
(training/colour.py), SWD and near-copies (training/evaluate.py), with 20-step DPM-Solver++ and 25-step
DDPM (what the scenes use). A grid of each row's first 16 postcards goes beside its model.

    nice -n 19 .venv/bin/python -m bench.recipes                  # 8 rows x 6 min at 32 px, 2 at once
    .venv/bin/python -m bench.recipes --minutes 1 --rows baseline,v-zsnr   # a quick look
    .venv/bin/python -m bench.recipes --evaluate-only             # score the models already trained
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA = PROJECT_ROOT.parent / "shared" / "datasets" / "camouflage" / "images"
RESULTS = PROJECT_ROOT / "bench" / "results" / "recipes.json"
OUT = Path("runs/recipes")
SAMPLERS = {"dpmsolver++": 20, "ddpm": 25}  # what previews and evaluate use; what the scenes use

OLD = ("--prediction", "epsilon", "--no-zero-snr", "--min-snr", "0", "--mean-colour-weight", "0", "--norm-groups", "32")
V = ("--prediction", "v", "--zero-snr", "--min-snr", "0", "--mean-colour-weight", "0", "--norm-groups", "32")
# name -> (what it is, options on top of the common ones); each row adds one remedy to the one before.
ROWS = {
    "shipped": ("the shipped recipe: ε, linear betas, 32 groups, LR never decays (--epochs 100000)",
                (*OLD, "--epochs", "100000")),
    "baseline": ("ε, linear betas, 32 groups, cosine over the step budget", OLD),
    "v-zsnr": ("v-prediction + zero-terminal-SNR betas, trailing timesteps", V),
    "v-zsnr-meancolour": ("+ mean-colour loss (weight 4)", (*V, "--mean-colour-weight", "4")),
    "v-zsnr-meancolour-minsnr": ("+ min-SNR-5 weighting", (*V, "--mean-colour-weight", "4", "--min-snr", "5")),
    "v-zsnr-meancolour-minsnr-groups8": ("+ 8 GroupNorm groups",
                                         (*V, "--mean-colour-weight", "4", "--min-snr", "5", "--norm-groups", "8")),
    # Which of the remedies matter on their own, given 8 groups:
    "v-zsnr-groups8": ("v + zero-SNR + 8 groups, no mean-colour term, no min-SNR", (*V, "--norm-groups", "8")),
    "v-zsnr-meancolour-groups8": ("v + zero-SNR + mean-colour + 8 groups, no min-SNR",
                                  (*V, "--mean-colour-weight", "4", "--norm-groups", "8")),
}


def train_command(name: str, args) -> list[str]:
    budget = () if "--epochs" in ROWS[name][1] else ("--max-steps", str(args.max_steps))
    return ["nice", "-n", "19", sys.executable, "-m", "training", "--data", str(args.data), "--preset", "small",
            "--resolution", str(args.resolution), "--batch", "32", "--threads", "1", "--seed", "0",
            "--time-limit", str(args.minutes), *budget, "--checkpoint-every", "100000", "--export-every", "100000",
            "--preview-every", "100000", "--preview-n", "16", "--log-every", "20", "--out", str(args.out / name),
            "--overwrite", *ROWS[name][1]]


def train_all(names: list[str], args) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(PROJECT_ROOT)}
    pending, running = list(names), []
    while pending or running:
        while pending and len(running) < args.parallel:
            name = pending.pop(0)
            (args.out / name).parent.mkdir(parents=True, exist_ok=True)
            log = open(args.out / f"{name}.log", "w")
            print(f"training {name}", flush=True)
            running.append((name, subprocess.Popen(train_command(name, args), cwd=PROJECT_ROOT, env=env,
                                                   stdout=log, stderr=subprocess.STDOUT), log))
        time.sleep(2)
        for item in [r for r in running if r[1].poll() is not None]:
            running.remove(item)
            item[2].close()
            if item[1].returncode:
                print(f"{item[0]} failed ({item[1].returncode}): see {args.out / item[0]}.log", flush=True)


def evaluate_row(name: str, photos, args) -> dict:
    from engine.postcards.generate import generate, make_grid
    from engine.postcards.store import load_model
    from training import colour
    from training.evaluate import evaluate, png

    folder = args.out / name
    facts = json.loads((folder / "training.json").read_text())
    model = load_model(folder, "cpu")
    row = {"row": name, "recipe": ROWS[name][0], "steps": facts["steps"], "wall_s": round(facts["wall_s"]),
           "lr_at_end": last_lr(folder), "samplers": {}}
    for scheduler in args.samplers.split(","):
        steps = SAMPLERS[scheduler]
        postcards = generate(model, scheduler=scheduler, n=args.n, steps=steps, seed=0, batch=25)
        report = evaluate(postcards, photos, seed=0)
        colours = colour.compare(postcards, photos, seed=0)
        (folder / f"grid-{scheduler}.png").write_bytes(png(make_grid(postcards[:16], cols=8)))
        row["samplers"][f"{scheduler}-{steps}"] = {
            "colour_x1e3": round(colours.distance * 1e3, 3), "colour_yardstick_x1e3": round(colours.yardstick * 1e3, 3),
            "cast_rate": colours.cast_rate, "cast_yardstick": colours.cast_yardstick,
            "swd_x1e3": round(report["swd_x1e3"]["model_vs_photos"]["mean"], 1),
            "swd_yardstick_x1e3": round(report["swd_x1e3"]["photos_vs_photos"]["mean"], 1),
            "near_copies": len(report["memorization"]["near_copies"]), "postcards": len(postcards),
            "mean_colour_spread": mean_colour_spread(postcards),
        }
    return row


def last_lr(folder: Path) -> float:
    lines = [json.loads(line) for line in (folder / "train_log.jsonl").read_text().splitlines()]
    return [line for line in lines if "lr" in line][-1]["lr"]  # preview lines carry no LR


def mean_colour_spread(images) -> float:
    """How much the images' mean colours differ from each other (std of mean R, G, B, averaged): one average
    brown for every postcard scores near 0."""
    import numpy as np

    from training import colour

    return round(float(np.std(colour.statistics(images)[:, :3], axis=0).mean()), 4)


def table(rows: list[dict], photos_spread: float) -> str:
    lines = [f"| row | recipe | steps | LR at end | sampler | colour distance x1e3 (photos) | cast rate (photos) "
             f"| SWD x1e3 (photos) | near-copies | mean-colour spread (photos {photos_spread:.3f}) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        for sampler, m in row["samplers"].items():
            lines.append(f"| {row['row']} | {row['recipe']} | {row['steps']} | {row['lr_at_end']:.1e} | {sampler} | "
                         f"{m['colour_x1e3']:.2f} ({m['colour_yardstick_x1e3']:.2f}) | {m['cast_rate']:.0%} "
                         f"({m['cast_yardstick']:.0%}) | {m['swd_x1e3']:.0f} ({m['swd_yardstick_x1e3']:.0f}) | "
                         f"{m['near_copies']} of {m['postcards']} | {m['mean_colour_spread']:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=OUT, help=f"where the rows' models go (default: {OUT})")
    parser.add_argument("--rows", default=",".join(ROWS), help="comma-separated rows (default: all)")
    parser.add_argument("--minutes", type=float, default=6.0, help="wall time of each row's training")
    parser.add_argument("--max-steps", type=int, default=600, help="the step budget of the LR schedule")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--parallel", type=int, default=2, help="rows trained at once, one thread each")
    parser.add_argument("--n", type=int, default=100, help="postcards scored per row and sampler")
    parser.add_argument("--samplers", default=",".join(SAMPLERS), help="comma-separated, of " + ", ".join(SAMPLERS))
    parser.add_argument("--evaluate-only", action="store_true", help="skip training; score the models in --out")
    args = parser.parse_args(argv)
    names = args.rows.split(",")
    if not set(args.samplers.split(",")) <= set(SAMPLERS):
        parser.error(f"--samplers: expected some of {', '.join(SAMPLERS)}, found {args.samplers}")
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        parser.error(f"--rows: unknown {', '.join(unknown)}; expected some of {', '.join(ROWS)}")
    if not args.evaluate_only:
        train_all(names, args)

    import torch

    from training.data import load_images
    from training.evaluate import training_photos

    torch.set_num_threads(args.parallel)
    photos = training_photos(load_images(str(args.data), args.resolution).pixels, args.resolution)
    rows = []
    for name in names:
        if not (args.out / name / "training.json").is_file():
            print(f"{name}: no model in {args.out / name}, skipped", flush=True)
            continue
        rows.append(evaluate_row(name, photos, args))
        print(json.dumps(rows[-1]), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"command": " ".join(sys.argv), "minutes": args.minutes,
                                   "max_steps": args.max_steps, "resolution": args.resolution,
                                   "photos_mean_colour_spread": mean_colour_spread(photos), "rows": rows},
                                  indent=2))
    print(table(rows, mean_colour_spread(photos)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
