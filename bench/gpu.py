"""One call on a lent GPU: train the 128 px `base` model and a super-resolution stage to 512 px on the
camouflage photos, evaluate, measure the training goals, train super-resolution stages for the CPU default,
and bring the results back under --out.

Run it through bench/gpu_run.sh (which installs what the GPU machine lacks first); docs/training.md ("On a
GPU") says how to call it with the device tool. Stages, each in its own process where it trains, each given
what is left of --budget and skipped when too little is left, one at a time: side by side on the H200 (the
second GPU run) the three super-resolution trainings made 13 steps in 2 minutes instead of ~400, and the
base's first 100 steps took 85 s.
  tutorial   bench.train: our loop vs the diffusers tutorial's, base preset, 128 px, batch 16 (img/s ratio,
             peak GPU memory at batch 16, goal <= 6 GB)
  base       python -m training, base preset, 128 px, 200 epochs (RGB + the animal's mask when --masks):
             wall time of 200 epochs (goal <= 5 min), img/s, peak GPU memory
  lowmem     python -m training, base preset, 128 px, batch 16 with gradient checkpointing, 40 steps: peak
             GPU memory (goal <= 6 GB) and img/s
  superres   python -m training.superres, 128 -> 512 px (factor 4), for --sr-minutes
  default-sr, default-sr-wide
             python -m training.superres, 128 -> 256 px as models/default uses it (factor 2, two passes'
             scales): its own widths and 32,64,96,128
  default-base
             python -m training, models/default's base (small-128, 128 px, RGB + mask) on ~5x the images its
             CPU run saw; the whole folder comes back
  evaluate   postcards evaluate on base + stage at 512 px: SWD, colour distance, cast rate, near-copies;
             seconds per finished postcard; grid.png of 16 finished postcards (+ grid.mask.png)
What comes back (at most 8 files, 16 MiB each): results.tar (the super-resolution stages in fp16, the base
model's card, training.json, evaluation.json, bench.train's figures, default-base's folder without its
checkpoints, logs, figures as JSON), grid.png, grid.mask.png, preview.png, log.txt (the shell's tee). The
base UNet (~114M parameters, ~228 MB in fp16) is larger than all the files that can come back together
(64 MiB), so it stays on the machine; its card, metrics and grid come back.

--dry-run runs the same code paths on the CPU with a tiny preset at 32 px in a few minutes.

    bash bench/gpu_run.sh                       # on the GPU machine ($OUT is set there)
    bash bench/gpu_run.sh --dry-run             # here, on the CPU: writes gpu-out/
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
DATA = PROJECT.parent / "shared" / "datasets" / "camouflage"
GB = 1e9

# name -> (full run on the GPU, --dry-run on the CPU)
PLAN = {
    "tutorial": ({"preset": "base", "resolution": 128, "batch": 16, "epochs": 3, "images": 0, "minutes": 3.0},
                 {"preset": "tiny", "resolution": 32, "batch": 16, "epochs": 2, "images": 16, "minutes": 3.0}),
    "base": ({"preset": "base", "resolution": 128, "epochs": 200, "batch": 32, "minutes": 4.5},
             {"preset": "tiny", "resolution": 32, "epochs": 2, "batch": 16, "minutes": 1.0, "threads": 1}),
    "lowmem": ({"preset": "base", "resolution": 128, "max_steps": 40, "batch": 16},
               {"preset": "tiny", "resolution": 32, "max_steps": 4, "batch": 16, "threads": 1}),
    # batch 256: at 64 the H100 run made 569 img/s, held back by per-step overhead, not by the GPU
    "superres": ({"factor": 4, "crop": 128, "batch": 256, "channels": "32,64,96,128", "layers": 2, "minutes": 1.0,
                  "postcard": 128},
                 {"factor": 4, "crop": 32, "batch": 4, "channels": "8,16", "layers": 1, "minutes": 0.1,
                  "postcard": 32, "threads": 1}),
    # for models/default (128 px postcards to 256 px, run on the CPU): its stage's recipe and widths, and wider
    "default-sr": ({"factor": 2, "passes": 2, "scales": "128,192,256,384", "crop": 128, "batch": 256,
                    "channels": "16,32,64,128", "layers": 2, "minutes": 2.0, "postcard": 128},
                   {"factor": 2, "passes": 2, "scales": "32,48", "crop": 32, "batch": 4, "channels": "8,16",
                    "layers": 1, "minutes": 0.1, "postcard": 16, "threads": 1}),
    "default-sr-wide": ({"factor": 2, "passes": 2, "scales": "128,192,256,384", "crop": 128, "batch": 256,
                         "channels": "32,64,96,128", "layers": 2, "minutes": 2.0, "postcard": 128},
                        {"factor": 2, "passes": 2, "scales": "32,48", "crop": 32, "batch": 4, "channels": "8,16",
                         "layers": 1, "minutes": 0.1, "postcard": 16, "threads": 1}),
    "evaluate": ({"n": 64, "batch": 32}, {"n": 4, "batch": 4}),
    # the CPU default's base (small-128 preset, 128 px, its recipe), with ~5x the images its CPU run saw
    "default-base": ({"preset": "small-128", "resolution": 128, "batch": 128, "max_steps": 4000, "minutes": 7.0},
                     {"preset": "tiny", "resolution": 32, "batch": 16, "max_steps": 4, "minutes": 1.0, "threads": 1}),
}
# seconds a stage needs at least (the H200 runs: tutorial 81 s, evaluate 45 s, a stage's start ~25 s)
NEED = {"tutorial": 90, "base": 200, "lowmem": 45, "superres": 90, "evaluate": 60, "default-sr": 70,
        "default-sr-wide": 70, "default-base": 120}


def parse(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.gpu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DATA / "images"), help="the camouflage photos (default: the shared set)")
    parser.add_argument("--masks", help="their animal masks: the base model paints a mask channel too")
    parser.add_argument("--out", default="gpu-out", help="where the results go ($OUT on the GPU machine)")
    parser.add_argument("--budget", type=float, default=560, help="seconds for all stages (default: 560)")
    parser.add_argument("--sr-minutes", type=float, help="super-resolution training minutes (default: the plan's)")
    parser.add_argument("--only", help="comma-separated stages to run (default: all)")
    parser.add_argument("--work", help="work folder (default: a new temporary one); with --only, stages can "
                                       "pick up an earlier run's base/ and superres-run/")
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU: the same code paths")
    return parser.parse_args(argv)


class Run:
    """The stages' shared state: the clock, the work folder, the figures gathered for the table."""

    def __init__(self, args):
        self.args, self.start = args, time.monotonic()
        self.work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="gpu-run-"))
        self.out = Path(args.out)
        self.figures: dict = {"dry_run": args.dry_run}
        self.chosen = args.only.split(",") if args.only else list(STAGES)
        self.plan = {name: plans[1 if args.dry_run else 0] for name, plans in PLAN.items()}
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}

    def left(self) -> float:
        return self.args.budget - (time.monotonic() - self.start)

    def reserve(self, name: str) -> float:
        """Seconds the issue's stages after `name` need; the default's stages only take what is left."""
        names = list(STAGES)
        later = names[names.index(name) + 1:names.index("evaluate") + 1]
        return sum(NEED[n] for n in later if n in self.chosen)

    def command(self, name: str, argv: list[str], limit: float) -> float:
        """Run `python argv` in the project, its output into the stage's log; returns its wall seconds."""
        log = self.work / f"{name}.log"
        began = time.monotonic()
        with log.open("w") as f:
            print(f"[{name}] {' '.join(argv)}", flush=True)
            result = subprocess.run([sys.executable, *argv], cwd=PROJECT, env=self.env, stdout=f,
                                    stderr=subprocess.STDOUT, timeout=limit)
        seconds = time.monotonic() - began
        if result.returncode:
            tail = log.read_text()[-1500:]
            raise RuntimeError(f"exit code {result.returncode} after {seconds:.0f} s:\n{tail}")
        return seconds


def training(run: Run, name: str, extra: list[str]) -> dict:
    """`python -m training` with the stage's plan, no checkpoints, previews or exports on the way; returns the
    facts of its training.json."""
    p, out, never = run.plan[name], run.work / name, str(10**9)
    argv = ["-m", "training", "--data", run.args.data, "--out", str(out), "--preset", p["preset"],
            "--resolution", str(p["resolution"]), "--batch", str(p["batch"]), "--log-every", "10",
            "--checkpoint-every", never, "--export-every", never, "--preview-every", never, *extra]
    if run.args.masks:
        argv += ["--masks", run.args.masks]
    if "threads" in p:  # a busy CPU: one thread does more work per CPU-second than two (docs/training.md)
        argv += ["--threads", str(p["threads"])]
    seconds = run.command(name, argv, limit=run.left())
    facts = json.loads((out / "training.json").read_text())
    return {"process_s": round(seconds, 1), **{k: facts.get(k) for k in (
        "epochs", "steps", "wall_s", "img_per_s", "peak_mem_bytes", "peak_mem_kind", "hardware", "params")}}


def stage_base(run: Run) -> None:
    p = run.plan["base"]
    minutes = min(p["minutes"], (run.left() - run.reserve("base")) / 60)
    run.figures["base"] = training(run, "base", ["--epochs", str(p["epochs"]), "--time-limit", str(minutes)])


def stage_default_base(run: Run) -> None:
    """A base for models/default, to compare with its CPU-trained one here: the folder comes back whole."""
    p = run.plan["default-base"]
    minutes = min(p["minutes"], (run.left() - 30) / 60)
    run.figures["default-base"] = training(run, "default-base", ["--max-steps", str(p["max_steps"]),
                                                                 "--time-limit", str(minutes)])


def stage_lowmem(run: Run) -> None:
    run.figures["lowmem"] = training(run, "lowmem", ["--max-steps", str(run.plan["lowmem"]["max_steps"]),
                                                     "--gradient-checkpointing"])


def stage_superres(run: Run, name: str = "superres") -> None:
    p = run.plan[name]
    out = run.work / f"{name}-run"
    minutes = min(run.args.sr_minutes or p["minutes"], (run.left() - run.reserve(name) - 25) / 60)
    argv = ["-m", "training.superres", "--data", run.args.data, "--out", str(out), "--factor", str(p["factor"]),
            "--crop", str(p["crop"]), "--batch", str(p["batch"]), "--channels", p["channels"],
            "--layers", str(p["layers"]), "--minutes", str(minutes), "--steps", "100000",
            "--checkpoint-every", "100000", "--log-every", "50", "--holdout", "10", "--postcard", str(p["postcard"])]
    if "passes" in p:
        argv += ["--passes", str(p["passes"]), "--scales", p["scales"]]
    if "threads" in p:
        argv += ["--threads", str(p["threads"])]
    seconds = run.command(name, argv, limit=run.left())
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    last = max(out.glob("checkpoints/checkpoint-*"))  # the final save names the last step
    run.figures[name] = {"process_s": round(seconds, 1), "steps": int(last.name.split("-")[1]),
                         "img_per_s": log[-1]["img_per_s"] if log else None, "channels": p["channels"],
                         "settings": json.loads((out / "superres" / "superres.json").read_text())}


def stage_evaluate(run: Run) -> None:
    """In this process: evaluate's own job on the finished model, then timings and a grid."""
    import numpy as np
    import torch
    from PIL import Image

    from engine.postcards.generate import generate, make_grid
    from engine.postcards.maker import split_mask
    from engine.postcards.store import load_model
    from engine.settings.config import load_config
    from training import evaluate

    p = run.plan["evaluate"]
    model_dir, out = run.work / "base", run.work / "evaluation"
    stage = run.work / "superres-run" / "superres"
    if stage.is_dir():  # the model "has one" from now on
        shutil.copytree(stage, model_dir / "superres", dirs_exist_ok=True)
    parser = argparse.ArgumentParser()
    evaluate.configure(parser)
    args = parser.parse_args(["--model", str(model_dir), "--data", run.args.data, "--n", str(p["n"]),
                              "--batch", str(p["batch"]), "--out", str(out)])
    args.settings = load_config()
    evaluate.run(args)
    report = json.loads((out / "evaluation.json").read_text())
    model = load_model(model_dir)
    seconds = []
    for seed in range(2 if run.args.dry_run else 4):  # the first call warms up the kernels
        began = time.monotonic()
        generate(model, scheduler="dpmsolver++", n=1, steps=20, seed=seed, batch=1)
        if model.device.type == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.monotonic() - began)
    pictures, masks = split_mask(generate(model, scheduler="dpmsolver++", n=16, steps=20, seed=0, batch=16))
    Image.fromarray(make_grid(pictures)).save(run.out / "grid.png")
    if masks is not None:
        Image.fromarray(make_grid(masks)).save(run.out / "grid.mask.png")
    swd, colour = report["swd_x1e3"], report["colour"]
    run.figures["evaluate"] = {
        "side": model.side, "device": str(model.device),
        "seconds_per_postcard": round(float(np.median(seconds[1:])), 3),
        "swd": swd["model_vs_photos"]["mean"], "swd_photos": swd["photos_vs_photos"]["mean"],
        "colour_distance": colour["frechet_x1e3"]["postcards_vs_photos"],
        "colour_distance_photos": colour["frechet_x1e3"]["photos_vs_photos"],
        "cast_rate": colour["cast_rate"]["postcards"], "near_copies": len(report["memorization"]["near_copies"]),
        "postcards": report["postcards"]}


def stage_tutorial(run: Run) -> None:
    p = run.plan["tutorial"]
    run.command("tutorial", ["-m", "bench.train", "--data", run.args.data, "--preset", p["preset"],
                             "--resolution", str(p["resolution"]), "--batch", str(p["batch"]),
                             "--epochs", str(p["epochs"]), "--images", str(p["images"]),
                             "--threads", str(os.cpu_count() or 1)], limit=min(run.left(), p["minutes"] * 60))
    result = json.loads((PROJECT / "bench" / "results" / "train.json").read_text())
    ours, ref = result["ours"], result["reference"]
    run.figures["tutorial"] = {"ours_img_per_s": ours["img_per_s"], "tutorial_img_per_s": ref["img_per_s"],
                               "ratio": ours["img_per_s"] / ref["img_per_s"],
                               "ours_peak_bytes_batch16": ours["gpu_peak_bytes"],
                               "tutorial_peak_bytes_batch16": ref["gpu_peak_bytes"]}


# In the order of the goals; the stages for the CPU default take what is left.
STAGES = {"tutorial": stage_tutorial, "base": stage_base, "lowmem": stage_lowmem, "superres": stage_superres,
          "evaluate": stage_evaluate, "default-sr": lambda run: stage_superres(run, "default-sr"),
          "default-sr-wide": lambda run: stage_superres(run, "default-sr-wide"), "default-base": stage_default_base}


def environment() -> dict:
    import diffusers
    import torch

    cuda = torch.cuda.is_available()
    return {"python": sys.version.split()[0], "torch": torch.__version__, "diffusers": diffusers.__version__,
            "device": torch.cuda.get_device_name(0) if cuda else "CPU", "cpus": os.cpu_count()}


def pack(run: Run) -> None:
    """results.tar: what fits and is worth keeping; the files that come back are named in the module doc."""
    (run.work / "figures.json").write_text(json.dumps(run.figures, indent=2, default=str))
    wanted = [run.work / "figures.json", *sorted(run.work.glob("*.log")), PROJECT / "bench" / "results" / "train.json",
              run.work / "evaluation" / "evaluation.json", run.work / "evaluation" / "memorization.png"]
    for name in ("superres", "default-sr", "default-sr-wide"):
        wanted += [run.work / f"{name}-run" / part for part in ("superres", "log.jsonl", "run.json")]
    # the 512 px stage's preview comes back as preview.png of its own (7 MB); the 256 px ones are small
    wanted += [run.work / f"{name}-run" / "preview.png" for name in ("default-sr", "default-sr-wide")]
    wanted += [run.work / "base" / name for name in ("README.md", "training.json", "train_log.jsonl", "preview.png")]
    wanted += [run.work / "lowmem" / "training.json", run.work / "default-base"]
    for old in run.out.glob("results.tar*"):
        old.unlink()
    with tarfile.open(run.out / "results.tar", "w") as tar:
        for path in wanted:
            if path.exists():
                tar.add(path, arcname=path.name if path.is_relative_to(PROJECT) else str(path.relative_to(run.work)),
                        filter=lambda member: None if "/checkpoints" in member.name else member)  # the export is enough
    preview = run.work / "superres-run" / "preview.png"
    if preview.exists():
        (run.out / "preview.png").write_bytes(preview.read_bytes())
    split(run.out / "results.tar")


def split(path: Path, part: int = 15 * 2**20) -> None:
    """A file over what one returned file may hold (16 MiB) becomes NAME.part0, NAME.part1, ... (join with cat)."""
    data = path.read_bytes()
    if len(data) <= part:
        return
    for i in range(0, len(data), part):
        path.with_name(f"{path.name}.part{i // part}").write_bytes(data[i:i + part])
    path.unlink()


def table(figures: dict) -> str:
    def get(stage, key, fmt="{}", scale=1):
        value = figures.get(stage, {}).get(key) if isinstance(figures.get(stage), dict) else None
        return fmt.format(value * scale) if isinstance(value, (int, float)) else "-"

    base = figures.get("base", {})
    epochs, wall = (base.get("epochs"), base.get("wall_s")) if isinstance(base, dict) else (None, None)
    per200 = f"{wall / epochs * 200 / 60:.1f} min" if epochs and wall else "-"
    rows = [
        ("device", figures.get("environment", {}).get("device", "-"),
         "DRY RUN: tiny sizes, figures mean nothing" if figures.get("dry_run") else ""),
        ("base: epochs done / wall", f"{get('base', 'epochs', '{:.0f}')} in {get('base', 'wall_s', '{:.0f}')} s", ""),
        ("base: 200 epochs of 128 px", per200, "<= 5 min"),
        ("base: img/s", get("base", "img_per_s", "{:.0f}"), ""),
        ("base: peak GPU memory (batch of the run)", get("base", "peak_mem_bytes", "{:.1f} GB", 1 / GB), ""),
        ("ours vs tutorial img/s (batch 16)", get("tutorial", "ratio", "{:.1f}x"), "faster"),
        ("peak GPU memory at batch 16", get("tutorial", "ours_peak_bytes_batch16", "{:.1f} GB", 1 / GB), "<= 6 GB"),
        ("... with gradient checkpointing", get("lowmem", "peak_mem_bytes", "{:.1f} GB", 1 / GB), "<= 6 GB"),
        *((f"{name}: steps / img/s", f"{get(name, 'steps')} / {get(name, 'img_per_s', '{:.0f}')}", "")
          for name in ("superres", "default-sr", "default-sr-wide")),
        ("default-base: steps / img/s", f"{get('default-base', 'steps')} / "
                                        f"{get('default-base', 'img_per_s', '{:.0f}')}", ""),
        ("finished postcard side", get("evaluate", "side", "{} px"), ">= 512 px"),
        ("seconds per finished postcard", get("evaluate", "seconds_per_postcard", "{:.2f} s"), ""),
        ("SWD x1e3 (photos' yardstick)",
         f"{get('evaluate', 'swd', '{:.0f}')} ({get('evaluate', 'swd_photos', '{:.0f}')})", "<= 2x yardstick"),
        ("colour distance x1e3 (yardstick)", f"{get('evaluate', 'colour_distance', '{:.2f}')} "
                                             f"({get('evaluate', 'colour_distance_photos', '{:.2f}')})", "<= 3x"),
        ("cast rate", get("evaluate", "cast_rate", "{:.0%}"), "<= 10 %"),
        ("near-copies", f"{get('evaluate', 'near_copies')} of {get('evaluate', 'postcards')}", "<= 2 %"),
    ]
    for name, value in figures.items():
        if isinstance(value, str) and value.startswith(("failed", "skipped")):
            rows.append((name, value.splitlines()[0][:70], ""))
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{name:{width}s}  {value:24s}  {goal}" for name, value, goal in rows)


def attempt(run: Run, name: str) -> None:
    if run.left() < NEED[name] * (0.2 if run.args.dry_run else 1):
        run.figures[name] = f"skipped: {run.left():.0f} s left of the budget"
        return
    began = time.monotonic()
    try:
        STAGES[name](run)
        figures = json.dumps(run.figures.get(name), default=str)[:400]
        print(f"[{name}] done in {time.monotonic() - began:.0f} s: {figures}", flush=True)
    except Exception as e:  # one stage's failure must not cost the others' figures
        run.figures[name] = f"failed: {type(e).__name__}: {e}"
        print(f"[{name}] {run.figures[name]}", flush=True)


def main(argv=None) -> int:
    import torch

    args = parse(argv)
    unknown = set(args.only.split(",") if args.only else ()) - set(STAGES)
    if unknown:
        print(f"bench.gpu: --only {args.only}: expected stages among {', '.join(STAGES)}, found {', '.join(unknown)}")
        return 2
    if not (torch.cuda.is_available() or args.dry_run):
        print("bench.gpu: no GPU here; nothing run (--dry-run runs the same stages at tiny sizes on the CPU)")
        return 0
    run = Run(args)
    run.out.mkdir(parents=True, exist_ok=True)
    run.figures["environment"] = environment()
    print(json.dumps(run.figures["environment"]), flush=True)
    for name in (name for name in STAGES if name in run.chosen):
        attempt(run, name)
        pack(run)  # what is done comes back even if the call is stopped later
    print(f"\nwork folder {run.work}; results in {run.out}: {', '.join(sorted(p.name for p in run.out.iterdir()))}")
    print(table(run.figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
