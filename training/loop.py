"""The training loop: in-memory data, device-side augmentation, EMA, atomic checkpoints, periodic export.

All randomness of a step comes from training.batches (seeded by seed, epoch, step and process, never global
RNG state), and the checkpoint holds the rest (weights, optimizer, LR schedule, EMA), so a resumed run
repeats the uninterrupted one bit for bit.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import resource
import shlex
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

from engine.errors import UserError
from training import checkpoint
from training.batches import WEIGHTS, Batches, derive_seed
from training.data import load_images
from training.export import export
from training.objective import Objective
from training.preview import preview_grid
from training.presets import check_resolution, get_preset, make_unet

log = logging.getLogger(__name__)

LOG_FILE = "train_log.jsonl"
DEFAULT_EPOCHS = 100


def warmup_steps(total_steps: int) -> int:
    """~3% of the run, at most 250 steps: a short run is not spent warming up (the tutorial: 500 of 800)."""
    return max(1, min(250, round(0.03 * total_steps)))


def refuse_existing_out(out: Path, resume: bool, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: expected a folder, found a file")
    if out.is_dir() and any(out.iterdir()) and not (resume or overwrite):
        raise UserError(f"--out {out}: the folder exists and is not empty; pass --resume to continue its "
                        f"run or --overwrite to replace it")


def prepare_out(out: Path, overwrite: bool) -> None:
    """Called once the data has loaded, so a bad --data never costs the old --out."""
    if overwrite and out.is_dir():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint.remove_partial(out)


def cpu_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def mixed_precision() -> str:
    """bf16 autocast on CUDA (fp16 with loss scaling on GPUs without bf16); fp32 on the CPU, where bf16 is slower."""
    import torch

    if not torch.cuda.is_available():
        return "no"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def hardware(device) -> str:
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU {name}, {torch.get_num_threads()} threads"


def peak_memory(device) -> tuple[int, str]:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device), "GPU max_memory_allocated"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "peak RSS"


class StopFlag:
    """While entered, SIGTERM / SIGINT ask the loop to stop at the next step, after a checkpoint and an export."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.asked = False
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():  # Python only lets the main thread catch signals
            self._previous = {sig: signal.signal(sig, self._ask) for sig in self.SIGNALS}
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _ask(self, signum, frame):
        if self.asked:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.asked = True
        log.warning("stop requested: finishing the step, saving a checkpoint and exporting")


def train(args) -> int:
    import torch
    from accelerate import Accelerator
    from diffusers import UNet2DModel
    from diffusers.optimization import get_scheduler
    from diffusers.training_utils import EMAModel
    from tqdm.auto import tqdm

    started = time.monotonic()
    logging.getLogger("accelerate").setLevel(logging.WARNING)  # it logs every file of every checkpoint
    preset = get_preset(args.preset)
    resolution = args.resolution or preset.resolution
    check_resolution(args.preset, resolution)
    for name in ("epochs", "batch", "checkpoint_every", "export_every", "preview_every", "log_every",
                 "keep_checkpoints", "preview_steps", "preview_n", "max_steps", "time_limit", "lr"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise UserError(f"--{name.replace('_', '-')}: expected a number above 0, found {value}")
    out = Path(args.out)
    objective = Objective(prediction=args.prediction, zero_snr=args.zero_snr, min_snr_gamma=args.min_snr,
                          mean_colour_weight=args.mean_colour_weight)

    accelerator = Accelerator(mixed_precision=mixed_precision())
    device, main = accelerator.device, accelerator.is_main_process
    if device.type == "cpu":
        torch.set_num_threads(args.threads or cpu_cores())
    refuse_existing_out(out, args.resume, args.overwrite)
    images = load_images(args.data, resolution, args.threads)
    if main:
        prepare_out(out, args.overwrite)
    accelerator.wait_for_everyone()
    if main:
        log.info("%d images from %s (%d skipped), stored at %d px", len(images), images.source,
                 len(images.skipped), images.pixels.shape[-1])
    stored = images.pixels.to(device)

    torch.manual_seed(derive_seed(args.seed, WEIGHTS))  # the initial weights
    unet = make_unet(args.preset, resolution, norm_groups=args.norm_groups).to(device, memory_format=torch.channels_last)
    if args.gradient_checkpointing:  # recompute activations in the backward pass: less memory, ~30% more time
        unet.enable_gradient_checkpointing()
    noise_scheduler = objective.noise_scheduler()
    cuda = device.type == "cuda"
    optimizer = torch.optim.AdamW(unet.parameters(), lr=args.lr, weight_decay=args.weight_decay,
                                  fused=cuda, foreach=not cuda)
    processes = accelerator.num_processes
    batches = Batches(stored, resolution=resolution, batch=args.batch, processes=processes,
                      rank=accelerator.process_index, seed=args.seed,
                      timesteps=noise_scheduler.config.num_train_timesteps, flip=not args.no_flip)
    global_batch, steps_per_epoch = batches.global_batch, batches.steps_per_epoch
    if args.max_steps and args.epochs is None:
        total_steps = args.max_steps
    else:
        total_steps = (args.epochs or DEFAULT_EPOCHS) * steps_per_epoch
        if args.max_steps:
            total_steps = min(total_steps, args.max_steps)
    warmup = args.warmup_steps if args.warmup_steps is not None else warmup_steps(total_steps)
    # Stepped once per optimiser step by us (not by accelerate, which would step it once per process).
    lr_scheduler = get_scheduler(args.lr_schedule, optimizer, num_warmup_steps=warmup,
                                 num_training_steps=total_steps)
    ema = EMAModel(unet.parameters(), decay=args.ema_max_decay, use_ema_warmup=True, inv_gamma=1.0,
                   power=args.ema_power, foreach=True)
    ema.to(device)
    unet, optimizer = accelerator.prepare(unet, optimizer)
    accelerator.register_for_checkpointing(lr_scheduler, ema)

    # Settings that must match to resume a run: they decide the data order and the model's shape.
    run_facts = {"preset": args.preset, "resolution": resolution, "batch": args.batch, "seed": args.seed,
                 "processes": processes, "images": len(images)}
    step, wall_before = 0, 0.0
    found = checkpoint.latest(out) if args.resume else None
    if found:
        path, meta = found
        differs = {k: (meta["run"].get(k), v) for k, v in run_facts.items() if meta["run"].get(k) != v}
        if differs:
            raise UserError(f"--resume {out}: the checkpoint was made with other settings; use the same ones or "
                            "a new --out: " + ", ".join(f"{k} was {a}, now {b}" for k, (a, b) in differs.items()))
        accelerator.load_state(str(path))
        ema.to(device)  # accelerate loads registered objects onto the CPU
        step, wall_before = meta["step"], meta["wall_s"]
        if main:
            log.info("resumed from %s at step %d", path, step)
    elif args.resume and main:
        log.info("--resume: no checkpoint in %s yet, starting from step 0", out)
    if args.compile:
        unet = torch.compile(unet)

    # The exported model: a plain UNet that receives the EMA weights for previews and export.
    ema_unet = UNet2DModel.from_config(accelerator.unwrap_model(unet).config).to(device).eval()
    n_params = sum(p.numel() for p in ema_unet.parameters())
    command = getattr(args, "command", None) or shlex.join(sys.argv)
    times = {"data_s": 0.0, "train_s": 0.0, "preview_s": 0.0, "save_s": 0.0}
    session_start, session_step = time.monotonic(), step
    last_preview = {"step": -1, "image": None}

    def facts() -> dict:
        peak, kind = peak_memory(device)
        elapsed = time.monotonic() - session_start
        return {"name": out.name, "data": images.source, "images": len(images), "skipped": len(images.skipped),
                "preset": args.preset, "resolution": resolution, "params": n_params, "batch": args.batch,
                "processes": processes, "epochs": step / steps_per_epoch, "steps": step,
                "images_seen": step * global_batch, "lr": args.lr, "lr_schedule": args.lr_schedule,
                "warmup_steps": warmup, "wall_s": wall_before + time.monotonic() - started,
                "hardware": hardware(device),
                "img_per_s": (step - session_step) * global_batch / max(elapsed, 1e-9),
                "peak_mem_bytes": peak, "peak_mem_kind": kind, "seed": args.seed,
                "preview_steps": args.preview_steps, "command": command, "norm_groups": ema_unet.config.norm_num_groups,
                **objective.describe()}

    def preview():
        """Sample a grid from the EMA weights (main process only), saved under previews/."""
        if last_preview["step"] == step:
            return last_preview["image"]
        t0 = time.monotonic()
        ema.copy_to(ema_unet.parameters())
        image = preview_grid(ema_unet, noise_scheduler.config, n=args.preview_n, steps=args.preview_steps,
                             seed=args.seed)
        (out / "previews").mkdir(exist_ok=True)
        image.save(out / "previews" / f"step-{step:08d}.png")
        times["preview_s"] += time.monotonic() - t0
        last_preview.update(step=step, image=image)
        return image

    def save_checkpoint():
        t0 = time.monotonic()
        meta = {"step": step, "epoch": step // steps_per_epoch, "run": run_facts,
                "wall_s": wall_before + time.monotonic() - started}
        checkpoint.save(accelerator, out, step, meta, args.keep_checkpoints)
        times["save_s"] += time.monotonic() - t0

    def export_model():
        if main:
            image = preview()
            t0 = time.monotonic()
            export(out, ema_unet, noise_scheduler, facts(), image)
            times["save_s"] += time.monotonic() - t0
            log.info("exported the EMA weights at step %d to %s", step, out)
        accelerator.wait_for_everyone()

    log_file = open(out / LOG_FILE, "a") if main else None
    bar = tqdm(total=total_steps, initial=step, disable=not main, unit="step", dynamic_ncols=True,
               mininterval=1.0 if sys.stderr.isatty() else 30.0)
    loss_sum, loss_count = torch.zeros((), device=device), 0
    window_start, window_step = time.monotonic(), step
    time_limit_s = args.time_limit * 60 if args.time_limit else math.inf
    unet.train()
    with StopFlag() as stop:
        try:
            while step < total_steps:
                t0 = time.monotonic()
                clean, noise, timesteps = batches(step)
                noisy = noise_scheduler.add_noise(clean, noise, timesteps)
                t1 = time.monotonic()
                with accelerator.autocast():
                    prediction = unet(noisy, timesteps).sample
                loss = objective.loss(noise_scheduler, prediction, clean, noise, timesteps)
                accelerator.backward(loss)
                accelerator.clip_grad_norm_(unet.parameters(), 1.0)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                ema.step(unet.parameters())
                step += 1
                loss_sum += loss.detach()
                loss_count += 1
                times["data_s"] += t1 - t0
                times["train_s"] += time.monotonic() - t1
                bar.update(1)

                stopping = stop.asked or time.monotonic() - started > time_limit_s
                if processes > 1:  # every process must agree to stop at the same step
                    flag = torch.tensor(float(stopping), device=device)
                    stopping = bool(accelerator.reduce(flag, "max").item())
                last = stopping or step >= total_steps
                if step % args.log_every == 0 or last:
                    now = time.monotonic()
                    mean_loss = accelerator.reduce(loss_sum, "mean").item() / loss_count
                    img_per_s = (step - window_step) * global_batch / max(now - window_start, 1e-9)
                    peak, _ = peak_memory(device)
                    line = {"step": step, "epoch": step // steps_per_epoch, "loss": mean_loss,
                            "lr": lr_scheduler.get_last_lr()[0], "img_per_s": img_per_s, "peak_mem_bytes": peak,
                            **{k: round(v, 3) for k, v in times.items()}, "elapsed_s": round(now - started, 3)}
                    if main:
                        log_file.write(json.dumps(line) + "\n")
                        log_file.flush()
                        bar.set_postfix(loss=f"{mean_loss:.4f}", img_s=f"{img_per_s:.1f}", refresh=False)
                    loss_sum.zero_()
                    loss_count, window_start, window_step = 0, now, step
                if step % args.preview_every == 0 and not last and main:
                    preview()
                if step % args.checkpoint_every == 0 or last:
                    save_checkpoint()
                if step % args.export_every == 0 or last:
                    export_model()
                if stopping:
                    reason = "stop requested" if stop.asked else f"time limit of {args.time_limit:g} min reached"
                    log.info("%s at step %d (epoch %d)", reason, step, step // steps_per_epoch)
                    break
            if step == session_step:  # nothing left to train (resumed a finished run): still leave a model
                log.info("the run had already reached %d steps; exporting it", step)
                export_model()
        finally:
            bar.close()
            if log_file:
                log_file.close()
    return 0
