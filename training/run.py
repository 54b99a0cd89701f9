"""A training run's bookkeeping: its folder, clock, log, previews, checkpoints, exports and model-card facts.

The loop (training/loop.py) owns the maths; a Run is told what happened (`logged`, `step`) and decides what
to write and when, so the loop stays a few lines a step.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from pathlib import Path

from engine.errors import UserError
from training import checkpoint
from training.machine import hardware, peak_memory
from training.settings import Settings

log = logging.getLogger(__name__)

LOG_FILE = "train_log.jsonl"
SLOW_SCHEDULE = 0.5  # warn when the time limit lets the run reach less than this share of its LR schedule


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


class Run:
    def __init__(self, settings: Settings, accelerator, *, images, channels: int, steps_per_epoch: int,
                 total_steps: int, warmup: int, global_batch: int, reference_colours):
        self.settings, self.accelerator = settings, accelerator
        self.out, self.device, self.main = settings.out, accelerator.device, accelerator.is_main_process
        self.images, self.channels = images, channels  # 3: RGB, 4: RGB + the animal's mask
        self.steps_per_epoch, self.total_steps = steps_per_epoch, total_steps
        self.warmup, self.global_batch = warmup, global_batch
        self.reference_colours = reference_colours  # colour.statistics of the photos, for the previews
        self.started = time.monotonic()
        self.step = self.session_step = 0
        self.wall_before = 0.0
        self.times = {"data_s": 0.0, "train_s": 0.0, "preview_s": 0.0, "save_s": 0.0}
        self.time_limit_s = settings.time_limit * 60 if settings.time_limit else math.inf
        self.window_start, self.window_step = self.started, 0
        self.last_preview = {"step": -1, "image": None, "colour": None, "postcards": None}
        self.warned_schedule = False
        self.log_file = None

    # -- the run's identity: what a checkpoint must agree with to be resumed ------------------------------
    def facts_to_match(self) -> dict:
        s = self.settings
        return {"preset": s.preset, "resolution": s.size, "batch": s.batch, "seed": s.seed,
                "processes": self.accelerator.num_processes, "images": len(self.images),
                "channels": self.channels}

    def resume(self) -> None:
        """Load the latest checkpoint of --out (when --resume and there is one) into the prepared objects."""
        found = checkpoint.latest(self.out) if self.settings.resume else None
        if found is None:
            if self.settings.resume and self.main:
                log.info("--resume: no checkpoint in %s yet, starting from step 0", self.out)
            return
        path, meta = found
        ours = self.facts_to_match()
        theirs = {"channels": 3, **meta["run"]}  # checkpoints from before masks were RGB
        differs = {k: (theirs.get(k), v) for k, v in ours.items() if theirs.get(k) != v}
        if differs:
            raise UserError(f"--resume {self.out}: the checkpoint was made with other settings; use the same ones "
                            "or a new --out: " + ", ".join(f"{k} was {a}, now {b}" for k, (a, b) in differs.items()))
        self.accelerator.load_state(str(path))
        self.step = self.session_step = self.window_step = meta["step"]
        self.wall_before = meta["wall_s"]
        if self.main:
            log.info("resumed from %s at step %d", path, self.step)

    # -- the clock --------------------------------------------------------------------------------------------
    def wall_s(self) -> float:
        return self.wall_before + time.monotonic() - self.started

    def out_of_time(self) -> bool:
        return time.monotonic() - self.started > self.time_limit_s

    def add_time(self, kind: str, since: float) -> float:
        now = time.monotonic()
        self.times[kind] += now - since
        return now

    # -- the log ----------------------------------------------------------------------------------------------
    def open_log(self) -> None:
        if self.main:
            self.log_file = open(self.out / LOG_FILE, "a")

    def close(self) -> None:
        if self.log_file:
            self.log_file.close()

    def write(self, line: dict) -> None:
        if self.log_file:
            self.log_file.write(json.dumps(line) + "\n")
            self.log_file.flush()

    def log_line(self, mean_loss: float, lr: float) -> dict:
        now = time.monotonic()
        img_per_s = (self.step - self.window_step) * self.global_batch / max(now - self.window_start, 1e-9)
        line = {"step": self.step, "epoch": self.step // self.steps_per_epoch, "loss": mean_loss, "lr": lr,
                "img_per_s": img_per_s, "peak_mem_bytes": peak_memory(self.device)[0],
                **{k: round(v, 3) for k, v in self.times.items()}, "elapsed_s": round(now - self.started, 3)}
        self.write(line)
        self.warn_if_the_schedule_cannot_finish(now)
        self.window_start, self.window_step = now, self.step
        return line

    def warn_if_the_schedule_cannot_finish(self, now: float) -> None:
        """A huge --epochs with a --time-limit keeps a decaying LR at its top: say so once, with the fix."""
        done = self.step - self.session_step
        if self.warned_schedule or not self.main or math.isinf(self.time_limit_s) or done < self.settings.log_every:
            return
        if self.settings.lr_schedule == "constant_with_warmup":
            return
        rate = done / max(now - self.started, 1e-9)
        reachable = self.step + rate * max(self.time_limit_s - (now - self.started), 0)
        if reachable < SLOW_SCHEDULE * self.total_steps:
            log.warning("at %.1f steps/s the --time-limit stops this run near step %d of the %d its %s LR schedule "
                        "spans: the LR will hardly decay. Pass a step budget the time allows, e.g. --max-steps %d",
                        rate, reachable, self.total_steps, self.settings.lr_schedule, int(reachable))
        self.warned_schedule = True

    # -- previews, checkpoints, exports -----------------------------------------------------------------------
    def preview(self, ema, ema_unet, noise_scheduler):
        """Sample a grid from the EMA weights (main process only) into previews/, and log its colour figures."""
        from training import colour
        from training.preview import preview_postcards, to_grid

        if self.last_preview["step"] == self.step:
            return self.last_preview["image"]
        t0 = time.monotonic()
        ema.copy_to(ema_unet.parameters())
        s = self.settings
        postcards = preview_postcards(ema_unet, noise_scheduler.config, n=s.preview_n, steps=s.preview_steps,
                                      seed=s.seed)
        image = to_grid(postcards)
        (self.out / "previews").mkdir(exist_ok=True)
        name = f"previews/step-{self.step:08d}.png"
        image.save(self.out / name)
        ours = colour.statistics(postcards)
        figures = {"colour_x1e3": round(colour.frechet(ours, self.reference_colours) * 1e3, 2),
                   "cast_rate": colour.cast_rate(ours, self.reference_colours)}
        self.write({"step": self.step, "preview": name, **figures})
        self.add_time("preview_s", t0)
        self.last_preview.update(step=self.step, image=image, colour=figures, postcards=postcards)
        return image

    def save_checkpoint(self) -> None:
        t0 = time.monotonic()
        meta = {"step": self.step, "epoch": self.step // self.steps_per_epoch, "run": self.facts_to_match(),
                "wall_s": self.wall_s()}
        checkpoint.save(self.accelerator, self.out, self.step, meta, self.settings.keep_checkpoints)
        self.add_time("save_s", t0)

    def export(self, ema, ema_unet, noise_scheduler) -> None:
        from training.export import export

        if self.main:
            image = self.preview(ema, ema_unet, noise_scheduler)
            t0 = time.monotonic()
            export(self.out, ema_unet, noise_scheduler, self.facts(ema_unet), image,
                   self.last_preview["postcards"], self.colour_anchor())
            self.add_time("save_s", t0)
            log.info("exported the EMA weights at step %d to %s", self.step, self.out)
        self.accelerator.wait_for_everyone()

    def colour_anchor(self):
        """The photos' mean colours (their centre squares) for the model's colour anchor, unless turned off."""
        from engine.postcards.anchor import ColourAnchor

        if not self.settings.colour_anchor:
            return None
        rgb = self.images.pixels[:, :3].float().mean(dim=(2, 3)) / 255
        return ColourAnchor(colours=rgb.cpu().numpy(), down_to=self.settings.colour_anchor)

    def facts(self, unet) -> dict:
        """What the model card says about the run."""
        s = self.settings
        peak, kind = peak_memory(self.device)
        return {"name": self.out.name, "data": self.images.source, "masks": s.masks, "images": len(self.images),
                "skipped": len(self.images.skipped), "preset": s.preset, "resolution": s.size,
                "channels": self.channels, "params": sum(p.numel() for p in unet.parameters()),
                "norm_groups": unet.config.norm_num_groups, **s.objective.describe(),
                "batch": s.batch, "processes": self.accelerator.num_processes,
                "epochs": self.step / self.steps_per_epoch, "steps": self.step, "step_budget": self.total_steps,
                "images_seen": self.step * self.global_batch, "lr": s.lr, "lr_schedule": s.lr_schedule,
                "warmup_steps": self.warmup, "wall_s": self.wall_s(), "hardware": hardware(self.device),
                "img_per_s": self.step * self.global_batch / max(self.wall_s(), 1e-9),
                "peak_mem_bytes": peak, "peak_mem_kind": kind, "colour_anchor": s.colour_anchor,
                "seed": s.seed, "preview_steps": s.preview_steps,
                "preview_colour": self.last_preview["colour"], "command": s.command}
