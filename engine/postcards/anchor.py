"""The colour anchor: each postcard takes its overall colour from one of the training photos.

The recipe's models paint natural colours, but give many postcards nearly the same overall hue: the photos'
spread of mean colours is wider (docs/benchmarks.md, Training recipes). The photos' mean colours, stored
with the model (colours.json), fix that while sampling: as long as the timestep is at or above `down_to`, the
UNet's output is corrected so that its guess of the clean picture has the mean colour of the postcard's own
photo colour (drawn by seed); below it the model paints freely. The early steps decide the overall colour,
the late ones the detail, so the anchor moves the first and leaves the second to the model.

    colours.json   {"mean_colours": [[r, g, b], ...] (0..1, one per photo), "anchor_down_to_timestep": 300}

A start from a picture (a dream) keeps that picture's colours: no anchor there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import UserError
from engine.postcards import checks

FILE = "colours.json"
MAX_COLOURS = 20_000  # one per photo; colours.json stays well under checks.MAX_JSON
# Postcard i's colour is drawn from seed + i + SEED_OFFSET: its noise (seed + i) stays the same numbers.
SEED_OFFSET = 0xC0_0000


@dataclass(frozen=True)
class ColourAnchor:
    colours: np.ndarray  # (k, 3) float: the photos' mean colours in [0, 1]
    down_to: int         # the anchor holds while the timestep is >= down_to

    def pick(self, seed: int, n: int):
        """The mean colours (n, 3) in [-1, 1] of postcards seed..seed+n-1, one photo's colour each."""
        import torch

        rows = [int(torch.randint(len(self.colours), (1,),
                                  generator=torch.Generator().manual_seed(seed + i + SEED_OFFSET)))
                for i in range(n)]
        return torch.from_numpy(self.colours[rows] * 2 - 1).float()

    def holds(self, timestep) -> bool:
        return float(timestep) >= self.down_to


def steer(output, model_input, timestep, colours, alphas_cumprod, prediction: str):
    """`output` (the UNet's, (n, C, H, W)) corrected so that the clean-picture guess it implies has the mean
    colours `colours` (n, 3) in its first three channels; the guess's detail and the mask stay as they were.

    With x_t = a x0 + s eps held (it is the sampler's state): x0 = a x_t - s v = (x_t - s eps) / a, so moving
    x0 by d moves v by -d/s, or eps by -a d/s (the same move: eps = s x_t + a v)."""
    acp = float(alphas_cumprod[int(round(float(timestep)))])
    a, s = acp ** 0.5, (1 - acp) ** 0.5
    if prediction == "v_prediction":
        guess = a * model_input[:, :3] - s * output[:, :3]
        scale = -1 / s
    elif a == 0:  # no picture left in x_t to steer: an epsilon model cannot say where its colour comes from
        return output
    else:  # epsilon
        guess = (model_input[:, :3] - s * output[:, :3]) / a
        scale = -a / s
    shift = colours.to(output.device, output.dtype) - guess.mean(dim=(2, 3))
    output = output.clone()
    output[:, :3] += scale * shift[:, :, None, None]
    return output


def read(folder: Path) -> ColourAnchor | None:
    """The anchor of a model folder, checked (None when the model has no colours.json)."""
    path = Path(folder) / FILE
    if not path.exists() and not path.is_symlink():
        return None
    data = checks.read_json(path, Path(folder))
    down_to = checks.get(data, path, "anchor_down_to_timestep", int, 0, 100_000)
    colours = data.get("mean_colours")
    try:
        table = np.asarray(colours, dtype=np.float64)
    except (TypeError, ValueError):
        table = np.empty(0)
    if table.ndim != 2 or table.shape[1:] != (3,) or not 1 <= len(table) <= MAX_COLOURS \
            or not np.isfinite(table).all() or table.min() < 0 or table.max() > 1:
        raise UserError(f"{path}: key 'mean_colours': expected 1 to {MAX_COLOURS:,} [r, g, b] triples in [0, 1], "
                        f"found {checks.short(colours)}")
    return ColourAnchor(colours=table, down_to=down_to)


def write(folder: Path, colours: np.ndarray, down_to: int) -> None:
    table = [[round(float(c), 4) for c in row] for row in np.asarray(colours)]
    (Path(folder) / FILE).write_text(json.dumps({"mean_colours": table, "anchor_down_to_timestep": down_to}))
