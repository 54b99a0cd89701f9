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

PRESET_NAMES = ("tiny", "small", "base")  # training.presets.PRESETS, named here to keep --help light


def configure(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("--data", required=True, metavar="DIR_OR_DATASET",
      help="a folder of images (jpg/jpeg/png/webp, nested folders fine) or a Hugging Face `datasets` name")
    a("--masks", metavar="DIR", help="the photos' animal masks (same names; any polarity): the model also paints "
      "the animal's mask as a fourth channel")
    a("--out", required=True, metavar="DIR", help="the model folder to write (DDPMPipeline layout)")
    a("--preset", default="small", choices=PRESET_NAMES, help="model size (default: small)")
    a("--resolution", type=int, metavar="PX", help="training size in pixels (default: the preset's)")
    a("--epochs", type=int, metavar="N",
      help="passes over the data (default: 100, or as many as --max-steps takes when only that is given)")
    a("--max-steps", type=int, metavar="N",
      help="the step budget: stop after N optimiser steps; the LR schedule decays over exactly these steps")
    a("--time-limit", type=float, metavar="MIN",
      help="stop cleanly (checkpoint + export) after this many minutes of this session")
    a("--batch", type=int, default=32, help="images per step per process (default: 32)")
    a("--lr", type=float, default=2e-4, help="peak learning rate (default: 2e-4)")
    a("--lr-schedule", default="cosine", choices=("cosine", "constant_with_warmup", "linear"),
      help="after the warm-up (default: cosine)")
    a("--warmup-steps", type=int, metavar="N", help="LR warm-up steps (default: 3%% of the run, at most 250)")
    a("--prediction", default="v", choices=("v", "epsilon"),
      help="what the UNet predicts: v (v-prediction, default) or epsilon (the noise, the old recipe)")
    a("--zero-snr", action=argparse.BooleanOptionalAction, default=True,
      help="zero-terminal-SNR betas with trailing timesteps (default: on; needs --prediction v)")
    a("--min-snr", type=float, default=5.0, metavar="GAMMA",
      help="min-SNR-gamma loss weighting (default: 5; 0 turns it off)")
    a("--mean-colour-weight", type=float, default=4.0, metavar="W",
      help="weight of the loss on each image's mean colour (default: 4; 0 turns it off)")
    a("--norm-groups", type=int, metavar="N", help="GroupNorm groups of the UNet (default: the preset's)")
    a("--weight-decay", type=float, default=0.0, help="AdamW weight decay (default: 0)")
    a("--ema-max-decay", type=float, default=0.9999, help="EMA decay ceiling (default: 0.9999)")
    a("--ema-power", type=float, default=0.75, help="EMA warm-up power: decay = 1 - (1 + step)^-power")
    a("--no-flip", action="store_true", help="no random horizontal flips")
    a("--seed", type=int, default=0, help="decides data order, augmentation, noise and previews (default: 0)")
    a("--checkpoint-every", type=int, default=500, metavar="STEPS", help="checkpoint period (default: 500)")
    a("--keep-checkpoints", type=int, default=2, metavar="N", help="checkpoints kept (default: 2)")
    a("--export-every", type=int, default=2000, metavar="STEPS",
      help="export the EMA model to --out this often, and at the end (default: 2000)")
    a("--preview-every", type=int, default=500, metavar="STEPS", help="preview grid period (default: 500)")
    a("--preview-n", type=int, default=16, metavar="N", help="images in a preview grid (default: 16)")
    a("--preview-steps", type=int, default=20, metavar="N", help="DPM-Solver++ steps for previews (default: 20)")
    a("--log-every", type=int, default=10, metavar="STEPS", help="JSON log line period (default: 10)")
    a("--threads", type=int, metavar="N", help="CPU threads for torch and decoding (default: all cores)")
    a("--gradient-checkpointing", action="store_true",
      help="recompute activations during the backward pass: much less memory for ~30%% more time per step")
    a("--compile", action="store_true", help="torch.compile the UNet (faster steps after a slow first one)")
    a("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
    a("--overwrite", action="store_true", help="delete --out first if it exists")


def run(args: argparse.Namespace) -> int:
    import torch

    from engine.errors import UserError
    from training.loop import train

    if args.resume and args.overwrite:
        raise UserError("--resume and --overwrite: expected one of them, found both")
    try:
        return train(args)
    except torch.OutOfMemoryError:
        raise UserError(out_of_memory(args, "GPU")) from None
    except RuntimeError as e:
        if "can't allocate memory" not in str(e):  # the CPU allocator's words for the same problem
            raise
        raise UserError(out_of_memory(args, "CPU")) from None


def out_of_memory(args: argparse.Namespace, where: str) -> str:
    return (f"out of {where} memory with --preset {args.preset}, --batch {args.batch}, --resolution "
            f"{args.resolution or 'default'}: lower --batch first (e.g. --batch {max(1, args.batch // 2)}) or add "
            "--gradient-checkpointing, then lower --resolution or take a smaller --preset; --resume continues "
            "from the last checkpoint")
