"""Sample postcards from a trained model: PNG files, and a near-square grid of them.

Any sampler runs on any model (few steps: dpmsolver++ takes 20 by default). The same seed on the same
device gives identical files; postcard i uses seed + i. Files are written to a temporary folder inside
--out and moved in place only when all of them are done, so an error leaves nothing half-written.

A model that paints the mask of its hidden animal as a fourth channel also gets each postcard's mask
written beside it (postcard_000.mask.png, white = animal; with --grid, grid.mask.png).

Examples:
  postcards generate --list
  postcards generate --model default --n 50 --grid --out out/
  postcards generate --model default --n 50 --grid-only --size 128x128 --out models/default   (the README grid)
  postcards generate --model models/default --scheduler unipc --steps 10 --seed 7 --size 512x512 --out out/
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.cli.args import parse_size
from engine.postcards.generate import check_sampling, generate, staging_folder, write_postcards
from engine.postcards.maker import torch_threads
from engine.postcards.schedulers import SCHEDULERS


def configure(parser) -> None:
    parser.add_argument("--list", action="store_true", help="list the models in models/ and stop")
    parser.add_argument("--model", default="default", help="model folder name in models/, or a path (default: default)")
    parser.add_argument("--n", type=int, default=16, help="how many postcards (default: 16)")
    parser.add_argument("--out", default="postcards-out", help="output folder (default: postcards-out)")
    parser.add_argument("--grid", action="store_true",
                        help="also write grid.png, all postcards near-square (and grid.mask.png for a model with masks)")
    parser.add_argument("--grid-only", action="store_true",
                        help="write only the grid (and grid.mask.png), not each postcard: how the README's grid is made")
    parser.add_argument("--scheduler", default="dpmsolver++", metavar="S",
                        help=f"sampler: {', '.join(SCHEDULERS)} (default: dpmsolver++)")
    parser.add_argument("--steps", type=int, default=None, metavar="K",
                        help="sampler steps (default: the sampler's few-step default, 20 for dpmsolver++)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="first seed; postcard i uses N + i (default: 0)")
    parser.add_argument("--batch", type=int, default=8, metavar="B", help="postcards per UNet call (default: 8)")
    parser.add_argument("--size", type=parse_size, default=None, metavar="WxH",
                        help="scale each postcard to cover WxH (Lanczos) and crop the rest (default: as painted)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="CPU threads for torch (default: [sampler] threads: all cores but one)")
    parser.add_argument("--device", default=None, metavar="D",
                        help="auto, cpu, cuda, cuda:N or mps (default: [sampler] device in config.toml)")


def run(args) -> int:
    from engine.postcards.store import describe_model, list_models, load_model, resolve_model

    models_dir = args.settings.path("models")
    if args.list:
        names = list_models(models_dir)
        if not names:
            print(f"no models in {models_dir}")
        for name in names:
            info = describe_model(models_dir / name)
            finished = f" -> {info['side']} px" if info["side"] not in (None, info["resolution"]) else ""
            print(f"{name:20s} {info['resolution']} px{finished}  {info['params'] / 1e6:.1f}M params  "
                  f"preset {info['preset'] or '?'}")
        return 0

    steps = check_sampling(args)
    path = resolve_model(args.model, models_dir)
    out = Path(args.out)
    with staging_folder(out) as staging:
        import torch

        torch.set_num_threads(torch_threads(args.threads or args.settings.sampler.threads))
        model = load_model(path, args.device or args.settings.sampler.device)
        images = generate(model, scheduler=args.scheduler, n=args.n, steps=steps, seed=args.seed, batch=args.batch)
        names = write_postcards(images, staging, size=args.size, grid=args.grid or args.grid_only,
                                each=not args.grid_only)
        for name in names:
            os.replace(staging / name, out / name)
    masks = images.shape[-1] == 4
    if args.grid_only:
        print(f"a grid of {len(images)} postcards: {out.resolve()}/grid.png" + (" and grid.mask.png" if masks else ""))
        return 0
    print(f"{len(images)} postcards in {out.resolve()}/ (postcard_000.png ... postcard_{len(images) - 1:03d}.png"
          + (", grid.png" if args.grid else "") + (", each with its animal's mask: postcard_000.mask.png ..."
          + (", grid.mask.png" if args.grid else "") if masks else "") + ")")
    return 0
