"""Train a model's super-resolution stage on a folder of full-resolution photos.

Writes into --out: superres/ (the stage: copy it into a model folder, e.g. models/default/superres, and the
model upscales its postcards), preview.png (held-out photos: bicubic | stage | photo), log.jsonl,
checkpoints/ and run.json. --resume continues from the latest checkpoint with the first session's settings.

Example:
  nice -n 19 python -m training.superres --data ../shared/datasets/camouflage/images \\
      --out runs/superres-1 --minutes 80
  cp -r runs/superres-1/superres models/default/
"""

from __future__ import annotations

import argparse
import shlex
import sys

from engine.errors import UserError
from engine.logs import setup_logging
from engine.postcards.superres import MAX_FACTOR
from training.superres import photos


def whole_numbers(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, found {text!r}") from None


def channels(text: str) -> list[int]:
    values = whole_numbers(text)
    if not values or any(v < 8 or v % 8 for v in values):
        raise argparse.ArgumentTypeError(f"expected multiples of 8, found {text!r}")
    return values


def sides(text: str) -> list[int]:
    values = whole_numbers(text)
    if not values or any(v < 32 for v in values):
        raise argparse.ArgumentTypeError(f"expected sides of at least 32 px, found {text!r}")
    return values


def configure(parser: argparse.ArgumentParser) -> None:
    a = parser.add_argument
    a("--data", required=True, metavar="DIR", help="folder of full-resolution photos")
    a("--out", required=True, metavar="DIR", help="run folder (stage, checkpoints, log)")
    a("--factor", type=int, default=4, choices=(2, 4, 8),
      help="upscaling factor of one pass (default: 4, 64 -> 256 px)")
    a("--scales", type=sides, default=list(photos.SCALES), metavar="PX1,PX2,...",
      help="short sides the photos are stored at, the scales crops come from (default: %s): the detail "
           "the stage learns is that of photos this size" % ",".join(map(str, photos.SCALES)))
    a("--passes", type=int, default=1, choices=(1, 2, 3),
      help="times the stage runs in a row when it upscales (default: 1); a 2x stage run twice brings 64 px "
           "to 256 px one octave at a time")
    a("--crop", type=int, default=64, metavar="PX", help="hi-res training crop side (default: 64)")
    a("--batch", type=int, default=16, help="crops per step (default: 16)")
    a("--steps", type=int, default=3000, help="at most this many optimiser steps (default: 3000)")
    a("--minutes", type=float, metavar="MIN",
      help="at most this many minutes of training, summed over resumed sessions; the LR decays to zero over "
           "whichever budget runs out first, then the run checkpoints and exports")
    a("--lr", type=float, default=5e-4, help="peak learning rate (default: 5e-4)")
    a("--warmup", type=int, default=100, metavar="STEPS", help="LR warm-up steps (default: 100)")
    a("--ema", type=float, default=0.999, help="EMA decay ceiling (default: 0.999)")
    # 16 channels at full size: 2.6x fewer FLOPs than 32,64,96,128 (15.5 vs 40 GFLOP a 256 px call with one
    # layer a block); the second layer buys depth at the cheap, small levels.
    a("--channels", type=channels, default=[16, 32, 64, 128], metavar="C1,C2,...",
      help="UNet block widths, attention-free (default: 16,32,64,128)")
    a("--layers", type=int, default=2, help="resnet layers per block (default: 2)")
    a("--groups", type=int, default=8, help="GroupNorm groups (default: 8)")
    a("--max-strength", type=float, default=0.7,
      help="highest noise level trained, as a fraction of the schedule (default: 0.7)")
    a("--start-strength", type=float, default=0.6, help="where sampling starts (default: 0.6)")
    a("--sample-steps", type=int, default=6, help="sampling steps from there (default: 6)")
    a("--sampler", default="dpmsolver++", choices=("dpmsolver++", "ddim"), help="the stage's sampler")
    a("--holdout", type=int, default=10, metavar="N", help="photos never trained on, for preview.png (default: 10)")
    a("--postcard", type=int, default=64, metavar="PX",
      help="postcard size the stage upscales, for preview.png (default: 64; the GPU run's base paints 128)")
    a("--seed", type=int, default=0)
    a("--threads", type=int, metavar="N", help="CPU threads (default: torch's)")
    a("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    a("--checkpoint-every", type=int, default=250, metavar="STEPS", help="checkpoint + export period (default: 250)")
    a("--log-every", type=int, default=10, metavar="STEPS")
    a("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
    a("--overwrite", action="store_true", help="delete --out first if it holds a run")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.superres", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    configure(parser)
    args = parser.parse_args(argv)
    args.command = shlex.join(["python", "-m", "training.superres", *(sys.argv[1:] if argv is None else argv)])
    setup_logging(None)
    try:
        if args.resume and args.overwrite:
            raise UserError("--resume and --overwrite: expected one of them, found both")
        if args.factor ** args.passes > MAX_FACTOR:
            raise UserError(f"--factor {args.factor} --passes {args.passes}: expected factor ** passes at most "
                            f"{MAX_FACTOR}, found {args.factor ** args.passes}")
        if not 0 < args.start_strength <= args.max_strength <= 1:
            raise UserError(f"--start-strength {args.start_strength}, --max-strength {args.max_strength}: "
                            f"expected 0 < start <= max <= 1")
        from training.superres.train import train

        return train(args)
    except KeyboardInterrupt:
        return 130
    except UserError as e:
        print(f"python -m training.superres: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
