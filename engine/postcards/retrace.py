"""Retracing the hidden animal: a postcard redrawn so its animal shows, one picture per way of showing it.

A model with a fourth channel paints the mask of its animal beside each postcard. From the postcard and
its mask we make, once per postcard and off the frame thread (in the sampler), a retraced picture for each
mode; the compositor then blends the chosen one over the postcard with `/visual/retrace` as its alpha, a
single SDL blit per frame like a crossfade.

    outline       the animal's contour drawn in a warm light line over the postcard
    spotlight     everything but the animal darkened, with a soft edge
    uncamouflage  the animal's colours and contrast raised, the rest untouched

A postcard whose mask marks no animal has no retraced pictures: there is nothing to show.
"""

from __future__ import annotations

import numpy as np

MODES = ("outline", "spotlight", "uncamouflage")
LINE = np.array([255, 236, 150], np.float32)  # the outline: warm light, visible on leaves, bark and sand
SPOT_DARK = 0.22        # what a spotlight leaves of the light outside the animal
SATURATION = 1.9        # uncamouflage: colour away from grey, times this
CONTRAST = 1.35         # uncamouflage: lightness away from the animal's mean, times this


def retraced(image: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """(H, W, 3) uint8 postcard and its (H, W) uint8 mask (255 = animal) -> {mode: (H, W, 3) uint8}, or {}
    when the mask marks no animal."""
    if image.ndim != 3 or image.shape[2] != 3 or mask.shape != image.shape[:2]:
        raise ValueError(f"retrace: expected an (H, W, 3) picture and an (H, W) mask, found {image.shape} "
                         f"and {mask.shape}")
    animal = mask >= 128
    if not animal.any():
        return {}
    rgb = image.astype(np.float32)
    soft = _feathered(mask, min(image.shape[:2]))[..., None]
    return {
        "outline": _outline(rgb, animal),
        "spotlight": _to_uint8(rgb * (SPOT_DARK + (1 - SPOT_DARK) * soft)),
        "uncamouflage": _to_uint8(rgb + (_vivid(rgb, animal) - rgb) * soft),
    }


def _outline(rgb: np.ndarray, animal: np.ndarray) -> np.ndarray:
    """A line along the mask's edge, about 1 % of the postcard's side wide (at least a pixel), with a dark
    rim outside it so it reads on light ground too."""
    from scipy import ndimage

    width = max(1, round(min(animal.shape) / 96))
    line = animal & ~ndimage.binary_erosion(animal, iterations=width, border_value=1)
    rim = ndimage.binary_dilation(animal, iterations=width) & ~animal
    out = rgb.copy()
    out[rim] *= 0.45
    out[line] = LINE
    return _to_uint8(out)


def _feathered(mask: np.ndarray, side: int) -> np.ndarray:
    """The mask as 0..1 with its edge softened over ~2 % of the side: a spotlight, not a cut-out."""
    from scipy import ndimage

    return np.clip(ndimage.gaussian_filter(mask.astype(np.float32) / 255, sigma=max(0.5, side / 50)), 0, 1)


def _vivid(rgb: np.ndarray, animal: np.ndarray) -> np.ndarray:
    grey = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    mean = float(grey[animal].mean())
    lightness = mean + (grey - mean) * CONTRAST
    return lightness[..., None] + (rgb - grey[..., None]) * SATURATION


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)
