"""Train a postcard diffusion model (a diffusers UNet2DModel) on a folder of photos or a `datasets` name.

The images are decoded once and kept in memory, augmented on the device; checkpoints are atomic and a run
resumes bit for bit with --resume; the output folder is a DDPMPipeline folder (EMA weights, safetensors)
with a model card and preview grids. Runs unchanged under `accelerate launch` for several GPUs.

Example:
  postcards train --data ../shared/datasets/camouflage/images --preset small --epochs 200 --out models/camo
  python -m training --data photos/ --preset tiny --resolution 32 --epochs 5 --out runs/try --overwrite
"""

from __future__ import annotations

import argparse

from training.objective import Objective
from training.presets import PRESETS
from training.settings import default

OBJECTIVE = Objective()  # the recipe's defaults


def configure(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    d = default
    a("--data", required=True, metavar="DIR_OR_DATASET",
      help="a folder of images (jpg/jpeg/png/webp, nested folders fine) or a Hugging Face `datasets` name")
    a("--masks", metavar="DIR", help="the photos' animal masks (same names; any polarity): the model also paints "
      "the animal's mask as a fourth channel")
    a("--out", required=True, metavar="DIR", help="the model folder to write (DDPMPipeline layout)")
    a("--preset", default=d("preset"), choices=tuple(PRESETS), help=f"model size (default: {d('preset')})")
    a("--resolution", type=int, metavar="PX", help="training size in pixels (default: the preset's)")
    a("--epochs", type=int, metavar="N",
      help="passes over the data (default: 100, or as many as --max-steps takes when only that is given)")
    a("--max-steps", type=int, metavar="N",
      help="the step budget: stop after N optimiser steps; the LR schedule decays over exactly these steps")
    a("--time-limit", type=float, metavar="MIN",
      help="stop cleanly (checkpoint + export) after this many minutes of this session")
    a("--batch", type=int, default=d("batch"), help=f"images per step per process (default: {d('batch')})")
    a("--lr", type=float, default=d("lr"), help=f"peak learning rate (default: {d('lr'):g})")
    a("--lr-schedule", default=d("lr_schedule"), choices=("cosine", "constant_with_warmup", "linear"),
      help=f"after the warm-up (default: {d('lr_schedule')})")
    a("--warmup-steps", type=int, metavar="N", help="LR warm-up steps (default: 3%% of the run, at most 250)")
    a("--prediction", default=OBJECTIVE.prediction, choices=("v", "epsilon"),
      help=f"what the UNet predicts: v (v-prediction) or epsilon (the noise; the old recipe) "
           f"(default: {OBJECTIVE.prediction})")
    a("--zero-snr", action=argparse.BooleanOptionalAction, default=OBJECTIVE.zero_snr,
      help="zero-terminal-SNR betas with trailing timesteps (needs --prediction v)")
    a("--min-snr", type=float, default=OBJECTIVE.min_snr_gamma, metavar="GAMMA",
      help=f"min-SNR-gamma loss weighting; 0 turns it off (default: {OBJECTIVE.min_snr_gamma:g})")
    a("--mean-colour-weight", type=float, default=OBJECTIVE.mean_colour_weight, metavar="W",
      help=f"weight of the loss on each image's mean colour; 0 turns it off "
           f"(default: {OBJECTIVE.mean_colour_weight:g})")
    a("--colour-anchor", type=int, default=d("colour_anchor"), metavar="T",
      help="the exported model's samplers give each postcard the mean colour of a photo while the timestep is "
           f">= T (colours.json; engine/postcards/anchor.py); 0 turns it off (default: {d('colour_anchor')})")
    a("--norm-groups", type=int, metavar="N", help="GroupNorm groups of the UNet (default: the preset's)")
    a("--weight-decay", type=float, default=d("weight_decay"), help=f"AdamW weight decay (default: {d('weight_decay'):g})")
    a("--ema-max-decay", type=float, default=d("ema_max_decay"),
      help=f"EMA decay ceiling (default: {d('ema_max_decay')})")
    a("--ema-power", type=float, default=d("ema_power"),
      help=f"EMA warm-up power: decay = 1 - (1 + step)^-power (default: {d('ema_power')})")
    a("--no-flip", action="store_true", help="no random horizontal flips")
    a("--seed", type=int, default=d("seed"), help="decides data order, augmentation, noise and previews (default: 0)")
    a("--checkpoint-every", type=int, default=d("checkpoint_every"), metavar="STEPS",
      help=f"checkpoint period (default: {d('checkpoint_every')})")
    a("--keep-checkpoints", type=int, default=d("keep_checkpoints"), metavar="N",
      help=f"checkpoints kept (default: {d('keep_checkpoints')})")
    a("--export-every", type=int, default=d("export_every"), metavar="STEPS",
      help=f"export the EMA model to --out this often, and at the end (default: {d('export_every')})")
    a("--preview-every", type=int, default=d("preview_every"), metavar="STEPS",
      help=f"preview grid period (default: {d('preview_every')})")
    a("--preview-n", type=int, default=d("preview_n"), metavar="N",
      help=f"images in a preview grid (default: {d('preview_n')})")
    a("--preview-steps", type=int, default=d("preview_steps"), metavar="N",
      help=f"DPM-Solver++ steps for previews (default: {d('preview_steps')})")
    a("--log-every", type=int, default=d("log_every"), metavar="STEPS",
      help=f"JSON log line period (default: {d('log_every')})")
    a("--threads", type=int, metavar="N", help="CPU threads for torch and decoding (default: all cores)")
    a("--gradient-checkpointing", action="store_true",
      help="recompute activations during the backward pass: much less memory for ~30%% more time per step")
    a("--compile", action="store_true", help="torch.compile the UNet (faster steps after a slow first one)")
    a("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
    a("--overwrite", action="store_true", help="delete --out first if it exists")


def run(args: argparse.Namespace) -> int:
    from engine.errors import UserError
    from training.settings import Settings

    settings = Settings.from_args(args)
    check_folders(settings)  # before torch loads (seconds): a mistyped path is said at once
    import torch

    from training.loop import train

    try:
        return train(settings)
    except torch.OutOfMemoryError:
        raise UserError(out_of_memory(args, "GPU")) from None
    except RuntimeError as e:
        if "can't allocate memory" not in str(e):  # the CPU allocator's words for the same problem
            raise
        raise UserError(out_of_memory(args, "CPU")) from None


def check_folders(settings) -> None:
    """--data given as a path (not a `datasets` name: those never start with /, . or ~) and --masks must be
    folders that exist."""
    from pathlib import Path

    from engine.errors import UserError

    for flag, value in (("--data", settings.data), ("--masks", settings.masks)):
        if value and (flag == "--masks" or value.startswith(("/", ".", "~"))):
            if not Path(value).expanduser().is_dir():
                raise UserError(f"{flag} {value}: expected a folder, found nothing there")


def out_of_memory(args: argparse.Namespace, where: str) -> str:
    return (f"out of {where} memory with --preset {args.preset}, --batch {args.batch}, --resolution "
            f"{args.resolution or 'default'}: lower --batch first (e.g. --batch {max(1, args.batch // 2)}) or add "
            "--gradient-checkpointing, then lower --resolution or take a smaller --preset; --resume continues "
            "from the last checkpoint")
