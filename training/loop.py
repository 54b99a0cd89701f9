"""The training loop: train(settings) builds the parts, then steps until the budget, the time limit or a stop.

All randomness of a step comes from training.batches (seeded by seed, epoch, step and process, never global
RNG state), and the checkpoint holds the rest (weights, optimizer, LR schedule, EMA), so a resumed run
repeats the uninterrupted one bit for bit. The bookkeeping (log, previews, checkpoints, exports, the model
card's facts) lives in training/run.py.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass

from training.batches import WEIGHTS, Batches, derive_seed
from training.data import load_images
from training.machine import check_processes, cpu_cores, mixed_precision, requested_processes
from training.presets import make_unet
from training.run import Run, prepare_out, refuse_existing_out
from training.settings import Settings

log = logging.getLogger(__name__)


def warmup_steps(total_steps: int) -> int:
    """~3% of the run, at most 250 steps: a short run is not spent warming up (the tutorial: 500 of 800)."""
    return max(1, min(250, round(0.03 * total_steps)))


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


@dataclass
class Parts:
    """What the loop steps: the model being trained, its optimiser, LR schedule and EMA, and the EMA's copy."""
    unet: object
    optimizer: object
    lr_scheduler: object
    ema: object
    ema_unet: object  # a plain UNet that receives the EMA weights for previews and export
    noise_scheduler: object
    batches: Batches


def reference_colours(images, resolution: int):
    """Colour statistics of the photos' centre squares: what the previews' colours are measured against."""
    from training.colour import statistics
    from training.evaluate import training_photos

    return statistics(training_photos(images.pixels.cpu(), resolution))


def build(settings: Settings, accelerator, images) -> tuple[Parts, Run]:
    import torch
    from diffusers import UNet2DModel
    from diffusers.optimization import get_scheduler
    from diffusers.training_utils import EMAModel

    device = accelerator.device
    torch.manual_seed(derive_seed(settings.seed, WEIGHTS))  # the initial weights
    unet = make_unet(settings.preset, settings.size, channels=images.channels, norm_groups=settings.norm_groups)
    unet = unet.to(device, memory_format=torch.channels_last)
    if settings.gradient_checkpointing:  # recompute activations in the backward pass: less memory, ~30% more time
        unet.enable_gradient_checkpointing()
    noise_scheduler = settings.objective.noise_scheduler()
    cuda = device.type == "cuda"
    optimizer = torch.optim.AdamW(unet.parameters(), lr=settings.lr, weight_decay=settings.weight_decay,
                                  fused=cuda, foreach=not cuda)
    batches = Batches(images, resolution=settings.size, batch=settings.batch, processes=accelerator.num_processes,
                      rank=accelerator.process_index, seed=settings.seed,
                      timesteps=noise_scheduler.config.num_train_timesteps, flip=settings.flip)
    total_steps = settings.total_steps(batches.steps_per_epoch)
    warmup = settings.warmup_steps if settings.warmup_steps is not None else warmup_steps(total_steps)
    # Stepped once per optimiser step by us (not by accelerate, which would step it once per process).
    lr_scheduler = get_scheduler(settings.lr_schedule, optimizer, num_warmup_steps=warmup,
                                 num_training_steps=total_steps)
    ema = EMAModel(unet.parameters(), decay=settings.ema_max_decay, use_ema_warmup=True, inv_gamma=1.0,
                   power=settings.ema_power, foreach=True)
    ema.to(device)
    unet, optimizer = accelerator.prepare(unet, optimizer)
    accelerator.register_for_checkpointing(lr_scheduler, ema)
    ema_unet = UNet2DModel.from_config(accelerator.unwrap_model(unet).config).to(device).eval()
    run = Run(settings, accelerator, images=images, channels=images.channels,
              steps_per_epoch=batches.steps_per_epoch, total_steps=total_steps, warmup=warmup,
              global_batch=batches.global_batch, reference_colours=reference_colours(images, settings.size))
    return Parts(unet, optimizer, lr_scheduler, ema, ema_unet, noise_scheduler, batches), run


def start(settings: Settings):
    """The accelerator and the images, after the checks that need no data; --out is prepared once they loaded."""
    import torch
    from accelerate import Accelerator

    logging.getLogger("accelerate").setLevel(logging.WARNING)  # it logs every file of every checkpoint
    accelerator = Accelerator(mixed_precision=mixed_precision())
    check_processes(accelerator.num_processes, requested_processes())
    if accelerator.device.type == "cpu":
        torch.set_num_threads(settings.threads or cpu_cores())
    refuse_existing_out(settings.out, settings.resume, settings.overwrite)
    images = load_images(settings.data, settings.size, settings.threads, masks=settings.masks)
    if accelerator.is_main_process:
        prepare_out(settings.out, settings.overwrite)
        log.info("%d images from %s (%d skipped), %d channels", len(images), images.source, len(images.skipped),
                 images.channels)
    accelerator.wait_for_everyone()
    return accelerator, images.to(accelerator.device)


def train(settings: Settings) -> int:
    import torch
    from tqdm.auto import tqdm

    accelerator, images = start(settings)
    parts, run = build(settings, accelerator, images)
    run.resume()
    parts.ema.to(accelerator.device)  # accelerate loads registered objects onto the CPU
    unet = torch.compile(parts.unet) if settings.compile else parts.unet
    device, main, processes = accelerator.device, accelerator.is_main_process, accelerator.num_processes
    bar = tqdm(total=run.total_steps, initial=run.step, disable=not main, unit="step", dynamic_ncols=True,
               mininterval=1.0 if sys.stderr.isatty() else 30.0)
    loss_sum, loss_count = torch.zeros((), device=device), 0
    export = lambda: run.export(parts.ema, parts.ema_unet, parts.noise_scheduler)  # noqa: E731
    run.open_log()
    unet.train()
    with StopFlag() as stop:
        try:
            while run.step < run.total_steps:
                t0 = time.monotonic()
                clean, noise, timesteps = parts.batches(run.step)
                noisy = parts.noise_scheduler.add_noise(clean, noise, timesteps)
                t1 = run.add_time("data_s", t0)
                with accelerator.autocast():
                    prediction = unet(noisy, timesteps).sample
                loss = settings.objective.loss(parts.noise_scheduler, prediction, clean, noise, timesteps)
                accelerator.backward(loss)
                accelerator.clip_grad_norm_(unet.parameters(), 1.0)
                parts.optimizer.step()
                parts.lr_scheduler.step()
                parts.optimizer.zero_grad(set_to_none=True)
                parts.ema.step(unet.parameters())
                run.step += 1
                loss_sum += loss.detach()
                loss_count += 1
                run.add_time("train_s", t1)
                bar.update(1)

                stopping = stop.asked or run.out_of_time()
                if processes > 1:  # every process must agree to stop at the same step
                    stopping = bool(accelerator.reduce(torch.tensor(float(stopping), device=device), "max").item())
                last = stopping or run.step >= run.total_steps
                if run.step % settings.log_every == 0 or last:
                    mean_loss = accelerator.reduce(loss_sum, "mean").item() / loss_count
                    line = run.log_line(mean_loss, parts.lr_scheduler.get_last_lr()[0])
                    bar.set_postfix(loss=f"{mean_loss:.4f}", img_s=f"{line['img_per_s']:.1f}", refresh=False)
                    loss_sum.zero_()
                    loss_count = 0
                if run.step % settings.preview_every == 0 and not last and main:
                    run.preview(parts.ema, parts.ema_unet, parts.noise_scheduler)
                if run.step % settings.checkpoint_every == 0 or last:
                    run.save_checkpoint()
                if run.step % settings.export_every == 0 or last:
                    export()
                if stopping:
                    reason = "stop requested" if stop.asked else f"time limit of {settings.time_limit:g} min reached"
                    log.info("%s at step %d (epoch %d)", reason, run.step, run.step // run.steps_per_epoch)
                    break
            if run.step == run.session_step:  # nothing left to train (resumed a finished run): still leave a model
                log.info("the run had already reached %d steps; exporting it", run.step)
                export()
        finally:
            bar.close()
            run.close()
    return 0
