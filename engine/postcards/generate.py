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


def generate(model, *, scheduler: str, n: int, steps: int, seed: int, batch: int) -> np.ndarray:
    """`n` postcards (uint8, n x H x W x 3) from a loaded store.Model, `batch` at a time, with progress."""
    from tqdm import tqdm

    from engine.postcards.sample import sample
    from engine.postcards.schedulers import make_scheduler, unet_calls

    sched = make_scheduler(scheduler, model.scheduler_config)
    starts = range(0, n, batch)
    chunks = []
    with tqdm(total=len(starts) * unet_calls(sched, steps), unit="step",
              desc=f"{n} postcards, {scheduler} {steps} steps on {model.device}") as bar:
        for start in starts:
            chunks.append(sample(model.unet, sched, n=min(batch, n - start), steps=steps, seed=seed + start,
                                 on_step=lambda *_: bar.update(1)))
    return np.concatenate(chunks)


def write_postcards(images: np.ndarray, folder: Path, *, size: int | None = None, grid: bool = False) -> list[str]:
    """Write postcard_000.png ... (and grid.png) into `folder`; returns the file names written."""
    from PIL import Image

    pictures = [Image.fromarray(image) for image in images]
    if size is not None:
        pictures = [p.resize((size, size), Image.Resampling.LANCZOS) for p in pictures]
    names = []
    for i, picture in enumerate(pictures):
        names.append(f"postcard_{i:03d}.png")
        picture.save(folder / names[-1])
    if grid:
        Image.fromarray(make_grid(np.stack([np.asarray(p) for p in pictures]))).save(folder / "grid.png")
        names.append("grid.png")
    return names


def make_grid(images: np.ndarray, cols: int | None = None) -> np.ndarray:
    """(n, H, W, 3) -> one image of the n tiled in rows, near-square unless `cols` is given; gaps are white."""
    n, h, w, c = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.full((rows * h, cols * w, c), 255, dtype=images.dtype)
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
