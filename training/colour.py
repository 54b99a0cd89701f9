"""Colour metrics: how far the postcards' colours stray from the photos', in numbers every run can watch.

Each image becomes ten numbers: the mean and the spread (standard deviation) of its R, G, B, saturation and
chroma (HSV's max - min of R, G, B; saturation is chroma / max), all in [0, 1]. Two sets of images are
compared by the Fréchet distance of Gaussians fitted to those vectors (FID's formula on colour statistics),
and the cast rate is the share of postcards whose mean chroma lies outside the photos' 2-98 % range. Each
comes with its yardstick: the same figure between two random halves of the photos.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FEATURES = ("mean R", "mean G", "mean B", "mean saturation", "mean chroma",
            "spread R", "spread G", "spread B", "spread saturation", "spread chroma")
MEAN_CHROMA = FEATURES.index("mean chroma")
CAST_RANGE = (2.0, 98.0)  # percentiles of the photos' mean chroma outside which a postcard has a cast


def statistics(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, 3) -> float64 (N, 10): per-image colour statistics, see FEATURES."""
    rgb = np.asarray(images, dtype=np.float64)[..., :3] / 255.0
    high, low = rgb.max(axis=-1), rgb.min(axis=-1)
    chroma = high - low
    saturation = np.divide(chroma, high, out=np.zeros_like(chroma), where=high > 0)
    channels = np.concatenate([rgb, saturation[..., None], chroma[..., None]], axis=-1)  # (N, H, W, 5)
    flat = channels.reshape(len(channels), -1, 5)
    return np.concatenate([flat.mean(axis=1), flat.std(axis=1)], axis=1)


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of feature vectors (rows)."""
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # Tr sqrt(A B) = Tr sqrt(sqrt(A) B sqrt(A)): a symmetric matrix, so eigh is exact and stable.
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(values.clip(min=0))) @ vectors.T
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a).clip(min=0)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.sqrt(cross).sum())


def chroma_range(reference: np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(reference[:, MEAN_CHROMA], CAST_RANGE)
    return float(low), float(high)


def cast_rate(stats: np.ndarray, reference: np.ndarray) -> float:
    """Share of images (rows of `stats`) whose mean chroma lies outside the reference's 2-98 % range."""
    low, high = chroma_range(reference)
    chroma = stats[:, MEAN_CHROMA]
    return float(((chroma < low) | (chroma > high)).mean())


@dataclass
class ColourReport:
    distance: float  # Fréchet distance of colour statistics, postcards vs photos (x 1e3 in reports)
    yardstick: float  # the same, photos vs photos (half vs half)
    cast_rate: float  # share of postcards with a cast
    cast_yardstick: float  # share of one half of the photos outside the other half's range
    images_per_side: int

    def as_dict(self) -> dict:
        return {"frechet_x1e3": {"postcards_vs_photos": self.distance * 1e3, "photos_vs_photos": self.yardstick * 1e3},
                "cast_rate": {"postcards": self.cast_rate, "photos": self.cast_yardstick,
                              "range": "mean chroma outside the photos' 2-98 % range"},
                "images_per_side": self.images_per_side}


def compare(postcards: np.ndarray, photos: np.ndarray, *, seed: int = 0) -> ColourReport:
    """Colour distance and cast rate of uint8 postcards against uint8 photos (NHWC), with their yardsticks.

    Like evaluate's SWD, each distance pits `half` postcards against `half` photos, so the figure and the
    yardstick are measured at the same set size (a Fréchet distance grows as sets shrink).
    """
    if len(photos) < 4:
        raise ValueError(f"photos: expected at least 4 to split in halves, found {len(photos)}")
    ours, theirs = statistics(postcards), statistics(photos)
    order = np.random.default_rng(seed).permutation(len(theirs))
    half = len(theirs) // 2
    first, second = theirs[order[:half]], theirs[order[half:2 * half]]
    size = min(half, len(ours))
    distance = np.mean([frechet(ours[:size], first[:size]), frechet(ours[-size:], second[:size])])
    return ColourReport(distance=float(distance), yardstick=frechet(first[:size], second[:size]),
                        cast_rate=cast_rate(ours, theirs), cast_yardstick=cast_rate(second, first),
                        images_per_side=size)


def summary(report: ColourReport) -> str:
    return "\n".join([
        f"colour distance (Fréchet of colour statistics, x 1e3): postcards {report.distance * 1e3:.2f}, "
        f"photos vs photos {report.yardstick * 1e3:.2f} ({report.distance / max(report.yardstick, 1e-12):.1f}x)",
        f"cast rate (mean chroma outside the photos' 2-98 % range): postcards {report.cast_rate:.0%}, "
        f"photos {report.cast_yardstick:.0%}"])
