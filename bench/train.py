"""Benchmark: our training loop against the diffusers tutorial's loop, same UNet and photos, side by side.

(a) ours: `python -m training` as shipped (images decoded once and kept in memory, crops and flips on the
    device, channels_last, bf16 autocast and fused AdamW on CUDA, EMA, 20-step DPM-Solver++ previews every
    500 steps).
(b) the reference, written the way the tutorial ("Train a diffusion model") does it: a Dataset that opens,
    decodes and resizes every JPEG every epoch, a DataLoader with no workers, the tutorial's precision
    (fp16 autocast on CUDA; fp32 on CPU, where there is no fp16), AdamW at 1e-4 with 500 warm-up steps, and
    `DDPMPipeline` previews of 16 images with 1000 DDPM steps every 10 epochs.

Each loop runs in its own process, so each peak RSS is its own; the first epoch is warm-up and left out of
the medians. The reference's 1000-step preview is timed on --ref-preview-steps steps and scaled to 1000 (a
DDPM step costs the same at every timestep), then spread over its 10-epoch cadence; ours is timed whole and
spread over its 500-step cadence.

    .venv/bin/python -m bench.train                      # CPU: small preset, 64 px, 96 photos, 3 epochs
    .venv/bin/python -m bench.train --images 0           # all the photos
    .venv/bin/python -m bench.train --preset base --resolution 128 --batch 16   # on a GPU
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine.settings.config import PROJECT_ROOT

DATA = PROJECT_ROOT.parent / "shared" / "datasets" / "camouflage" / "images"
RESULTS = PROJECT_ROOT / "bench" / "results" / "train.json"
REF_PREVIEW_EVERY_EPOCHS = 10  # the tutorial's save_image_epochs
REF_PREVIEW_IMAGES = 16  # the tutorial's eval_batch_size
OUR_PREVIEW_EVERY_STEPS = 500  # python -m training's default --preview-every


def parse(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DATA), help="folder of photos (default: the camouflage set)")
    parser.add_argument("--images", type=int, default=96, help="use the first N photos, 0 for all (default: 96)")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per loop; the first is warm-up (default: 3)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--ref-preview-steps", type=int, default=50,
                        help="DDPM steps actually run for the reference preview, scaled to 1000 (default: 50)")
    parser.add_argument("--child-reference", metavar="JSON", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def photo_folder(args, scratch: Path) -> Path:
    """The photos, or a folder of links to the first --images of them (never copies)."""
    from training.data import find_images

    if not args.images:
        return Path(args.data)
    folder = scratch / "photos"
    folder.mkdir()
    for path in find_images(Path(args.data))[:args.images]:
        (folder / path.name).symlink_to(path.resolve())
    return folder


def run_child(command: list[str]) -> dict:
    """Run a loop in its own process; its wall time and its own peak RSS (from wait4)."""
    start = time.monotonic()
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{' '.join(command[:4])} ... failed with exit code {process.returncode}")
    return {"process_wall_s": time.monotonic() - start, "peak_rss_bytes": usage.ru_maxrss * 1024}


def measure_ours(args, photos: Path, scratch: Path) -> dict:
    import torch
    from diffusers import DDPMPipeline

    from training.preview import preview_grid

    out = scratch / "ours"
    n_images = len(__import__("training.data", fromlist=["find_images"]).find_images(photos))
    steps_per_epoch = -(-n_images // args.batch)
    never = str(10**9)
    child = run_child([sys.executable, "-m", "training", "--data", str(photos), "--out", str(out),
                       "--preset", args.preset, "--resolution", str(args.resolution), "--batch", str(args.batch),
                       "--epochs", str(args.epochs), "--threads", str(args.threads),
                       "--log-every", str(steps_per_epoch), "--checkpoint-every", never,
                       "--export-every", never, "--preview-every", never])
    lines = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    lines = [line for line in lines if "img_per_s" in line]  # the step lines, not the preview or export ones
    epoch_s = [steps_per_epoch * args.batch / line["img_per_s"] for line in lines]
    # Our preview, timed whole: the same call the loop makes, on the exported EMA weights.
    torch.set_num_threads(args.threads)
    pipe = DDPMPipeline.from_pretrained(out)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    start = time.monotonic()
    preview_grid(pipe.unet.to(device), pipe.scheduler.config, n=16, steps=20, seed=0)
    preview_s = time.monotonic() - start
    train_epoch_s = statistics.median(epoch_s[1:] or epoch_s)
    return {**child, "img_per_s": steps_per_epoch * args.batch / train_epoch_s, "train_epoch_s": train_epoch_s,
            "preview_s": preview_s, "preview": "16 images, 20-step DPM-Solver++",
            "preview_per_epoch_s": preview_s * steps_per_epoch / OUR_PREVIEW_EVERY_STEPS,
            "images_per_epoch": steps_per_epoch * args.batch,
            "gpu_peak_bytes": lines[-1]["peak_mem_bytes"] if device == "cuda" else None}


def reference_child(args) -> None:
    """The tutorial's loop, in this process; writes its measurements to --child-reference."""
    import random

    import numpy as np
    import torch
    import torch.nn.functional as F
    from accelerate import Accelerator
    from diffusers import DDPMPipeline, DDPMScheduler
    from diffusers.optimization import get_cosine_schedule_with_warmup
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset

    from training.data import find_images
    from training.presets import make_unet

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    size = args.resolution

    class Photos(Dataset):  # Resize((size, size)), RandomHorizontalFlip, ToTensor, Normalize([0.5], [0.5])
        def __init__(self, paths):
            self.paths = paths

        def __len__(self):
            return len(self.paths)

        def __getitem__(self, i):
            image = Image.open(self.paths[i]).convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
            if random.random() < 0.5:
                image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
            return (x - 0.5) / 0.5

    cuda = torch.cuda.is_available()
    accelerator = Accelerator(mixed_precision="fp16" if cuda else "no")
    loader = DataLoader(Photos(find_images(Path(args.data))), batch_size=args.batch, shuffle=True)
    model = make_unet(args.preset, size)
    noise_scheduler = DDPMScheduler(num_train_timesteps=1000)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    lr_scheduler = get_cosine_schedule_with_warmup(optimizer, num_warmup_steps=500,
                                                   num_training_steps=len(loader) * 50)
    model, optimizer, loader, lr_scheduler = accelerator.prepare(model, optimizer, loader, lr_scheduler)
    epoch_s = []
    for _ in range(args.epochs):
        start = time.monotonic()
        for clean in loader:
            noise = torch.randn(clean.shape, device=clean.device)
            timesteps = torch.randint(0, 1000, (clean.shape[0],), device=clean.device)
            noisy = noise_scheduler.add_noise(clean, noise, timesteps)
            with accelerator.accumulate(model):
                prediction = model(noisy, timesteps, return_dict=False)[0]
                loss = F.mse_loss(prediction, noise)
                accelerator.backward(loss)
                accelerator.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad()
        if cuda:
            torch.cuda.synchronize()
        epoch_s.append(time.monotonic() - start)
    pipeline = DDPMPipeline(unet=accelerator.unwrap_model(model), scheduler=noise_scheduler)
    start = time.monotonic()
    pipeline(batch_size=REF_PREVIEW_IMAGES, generator=torch.Generator().manual_seed(0),
             num_inference_steps=args.ref_preview_steps, output_type="np")
    preview_s = (time.monotonic() - start) * 1000 / args.ref_preview_steps
    Path(args.child_reference).write_text(json.dumps({
        "epoch_s": epoch_s, "images_per_epoch": len(loader.dataset), "preview_s": preview_s,
        "gpu_peak_bytes": torch.cuda.max_memory_allocated() if cuda else None}))


def measure_reference(args, photos: Path, scratch: Path) -> dict:
    result = scratch / "reference.json"
    child = run_child([sys.executable, "-m", "bench.train", "--data", str(photos), "--preset", args.preset,
                       "--resolution", str(args.resolution), "--batch", str(args.batch),
                       "--epochs", str(args.epochs), "--threads", str(args.threads),
                       "--ref-preview-steps", str(args.ref_preview_steps), "--child-reference", str(result)])
    r = json.loads(result.read_text())
    train_epoch_s = statistics.median(r["epoch_s"][1:] or r["epoch_s"])
    return {**child, "img_per_s": r["images_per_epoch"] / train_epoch_s, "train_epoch_s": train_epoch_s,
            "preview_s": r["preview_s"],
            "preview": f"16 images, 1000-step DDPM (timed on {args.ref_preview_steps} steps, scaled)",
            "preview_per_epoch_s": r["preview_s"] / REF_PREVIEW_EVERY_EPOCHS,
            "images_per_epoch": r["images_per_epoch"], "gpu_peak_bytes": r["gpu_peak_bytes"]}


def table(ours: dict, ref: dict) -> str:
    def row(name, a, b, fmt, better_low=True):
        ratio = (b / a if better_low else a / b) if a and b else float("nan")
        return f"| {name} | {fmt(a)} | {fmt(b)} | {ratio:.1f}x |"

    mib = lambda v: f"{v / 2**20:,.0f} MiB" if v else "-"
    secs = lambda v: f"{v:.1f} s"
    lines = ["| | ours | reference (tutorial) | ours better by |", "|---|---|---|---|",
             row("training img/s (median epoch)", ours["img_per_s"], ref["img_per_s"], lambda v: f"{v:.1f}",
                 better_low=False),
             row("training time per epoch", ours["train_epoch_s"], ref["train_epoch_s"], secs),
             row("one preview grid", ours["preview_s"], ref["preview_s"], secs),
             row("preview time per epoch (own cadence)", ours["preview_per_epoch_s"], ref["preview_per_epoch_s"],
                 secs),
             row("wall time per epoch incl. previews", ours["train_epoch_s"] + ours["preview_per_epoch_s"],
                 ref["train_epoch_s"] + ref["preview_per_epoch_s"], secs),
             row("peak RSS of the process", ours["peak_rss_bytes"], ref["peak_rss_bytes"], mib)]
    if ours["gpu_peak_bytes"]:
        lines.append(row("peak GPU memory allocated", ours["gpu_peak_bytes"], ref["gpu_peak_bytes"], mib))
    return "\n".join(lines)


def main(argv=None) -> None:
    args = parse(argv)
    if args.child_reference:
        reference_child(args)
        return
    with tempfile.TemporaryDirectory(prefix="bench-train-") as scratch:
        scratch = Path(scratch)
        photos = photo_folder(args, scratch)
        print(f"bench.train: {args.preset} preset, {args.resolution} px, batch {args.batch}, {args.epochs} epochs "
              f"of {photos}, {args.threads} threads", flush=True)
        ours = measure_ours(args, photos, scratch)
        ref = measure_reference(args, photos, scratch)
    print(table(ours, ref))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"args": vars(args), "ours": ours, "reference": ref}, indent=2))
    print(f"(raw figures in {RESULTS.relative_to(PROJECT_ROOT)})")


if __name__ == "__main__":
    main()
