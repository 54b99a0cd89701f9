"""Sample postcards from a trained model into PNG files and a near-square grid (`postcards generate`,
`evaluate` and the training previews use it). Files are written to a staging folder and moved in place
only when all are done, so an error leaves nothing half-written.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from engine.errors import UserError


def check_positive(what: str, value: int) -> None:
    if value <= 0:
        raise UserError(f"{what}: expected a whole number of at least 1, found {value}")


def check_sampling(args) -> int:
    """The arguments `generate` and `evaluate` share (--n, --batch, --threads, --scheduler, --steps), checked
    before anything heavy loads; returns the steps (the sampler's few-step default when --steps is not given)."""
    from engine.postcards.schedulers import DEFAULT_STEPS, check_scheduler

    check_positive("--n", args.n)
    check_positive("--batch", args.batch)
    if args.threads is not None:
        check_positive("--threads", args.threads)
    check_scheduler(args.scheduler)
    steps = DEFAULT_STEPS[args.scheduler] if args.steps is None else args.steps
    check_positive("--steps", steps)
    return steps


def generate(model, *, scheduler: str, n: int, steps: int, seed: int, batch: int) -> np.ndarray:
    """`n` postcards (uint8, n x H x W x C) from a loaded store.Model, `batch` at a time, with progress; C is 4
    when the model paints the mask of its animal as a fourth channel (maker.split_mask separates it). A model
    with a super-resolution stage gives them at its finished size (model.side)."""
    from tqdm import tqdm

    from engine.postcards.sample import sample
    from engine.postcards.superres import upscale
    from engine.postcards.schedulers import make_scheduler, unet_calls

    sched = make_scheduler(scheduler, model.scheduler_config)
    stage = model.superres
    stage_steps = stage.settings.steps if stage is not None else 0
    starts = range(0, n, batch)
    chunks = []
    with tqdm(total=len(starts) * (unet_calls(sched, steps) + stage_steps), unit="step",
              desc=f"{n} postcards, {scheduler} {steps} steps" + (f" + {stage_steps} to {model.side} px" if stage
                                                                  else "") + f" on {model.device}") as bar:
        for start in starts:
            chunk = sample(model.unet, sched, n=min(batch, n - start), steps=steps, seed=seed + start,
                           anchor=model.anchor, on_step=lambda *_: bar.update(1))
            if stage is not None:
                chunk = upscale(chunk, stage, seed=seed + start)
                bar.update(stage_steps)
            chunks.append(chunk)
    return np.concatenate(chunks)


def write_postcards(images: np.ndarray, folder: Path, *, size: tuple[int, int] | None = None,
                    grid: bool = False, each: bool = True) -> list[str]:
    """Write postcard_000.png ... (unless not `each`) and grid.png (when `grid`) into `folder`; with a fourth
    channel also each postcard's animal mask, postcard_000.mask.png ... (white = animal; and grid.mask.png).
    `size` (width, height): each postcard scaled to cover it and centre-cropped. Returns the names written."""
    from engine.postcards.maker import split_mask

    pictures, masks = split_mask(images)
    names = _write(pictures, folder, "", size, grid, each)
    if masks is not None:
        names += _write(masks, folder, ".mask", size, grid, each)
    return names


def _write(images: np.ndarray, folder: Path, kind: str, size: tuple[int, int] | None, grid: bool,
           each: bool) -> list[str]:
    from PIL import Image, ImageOps

    pictures = [Image.fromarray(image) for image in images]
    if size is not None:  # masks stay sharp-edged: nearest neighbour, not Lanczos
        method = Image.Resampling.NEAREST if kind else Image.Resampling.LANCZOS
        pictures = [ImageOps.fit(p, size, method) for p in pictures]
    names = []
    for i, picture in enumerate(pictures if each else []):
        names.append(f"postcard_{i:03d}{kind}.png")
        picture.save(folder / names[-1])
    if grid:
        Image.fromarray(make_grid(np.stack([np.asarray(p) for p in pictures]))).save(folder / f"grid{kind}.png")
        names.append(f"grid{kind}.png")
    return names


def make_grid(images: np.ndarray, cols: int | None = None) -> np.ndarray:
    """(n, H, W, C) or (n, H, W) -> one image of the n tiled in rows, near-square unless `cols` is given; gaps
    are white."""
    n, h, w = images.shape[:3]
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.full((rows * h, cols * w, *images.shape[3:]), 255, dtype=images.dtype)
    for i, image in enumerate(images):
        r, q = divmod(i, cols)
        grid[r * h:(r + 1) * h, q * w:(q + 1) * w] = image
    return grid


@contextmanager
def staging_folder(out: Path):
    """A temporary folder inside `out` (made if needed), removed on exit; an unwritable `out` fails first."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: expected a folder, found a file")
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=out))
    except OSError as e:
        raise UserError(f"--out {out}: expected a folder we can write to, found {e.strerror}") from None
    try:
        yield staging
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)  # it was ours and holds nothing finished
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
