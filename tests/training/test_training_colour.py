"""Colour metrics on images made here: a set with colour casts must score worse than a natural one."""

from __future__ import annotations

import numpy as np
import pytest

from training import colour

PALETTE = np.array([[0.35, 0.30, 0.20], [0.30, 0.38, 0.22], [0.50, 0.45, 0.35], [0.25, 0.28, 0.18],
                    [0.55, 0.50, 0.40], [0.40, 0.35, 0.25]])  # bark, moss, sand, shade, stone, leaf litter


def textured(n: int, seed: int, cast=None) -> np.ndarray:
    """Habitat-like squares: a palette colour, brightness and texture; `cast` adds an RGB shift to every other."""
    rng = np.random.default_rng(seed)
    base = PALETTE[rng.integers(len(PALETTE), size=n)] * rng.uniform(0.7, 1.3, size=(n, 1))
    if cast is not None:
        base[::2] += cast
    texture = rng.normal(0, 0.08, size=(n, 16, 16, 1)) + rng.normal(0, 0.03, size=(n, 16, 16, 3))
    return (np.clip(base[:, None, None, :] + texture, 0, 1) * 255).round().astype(np.uint8)


def test_statistics_are_the_mean_and_spread_of_rgb_saturation_and_chroma():
    image = np.zeros((1, 2, 2, 3), dtype=np.uint8)
    image[0, 0, 0] = (255, 0, 0)  # one red pixel of four, the rest black
    stats = dict(zip(colour.FEATURES, colour.statistics(image)[0]))
    assert stats["mean R"] == pytest.approx(0.25) and stats["mean G"] == 0
    assert stats["mean chroma"] == pytest.approx(0.25) and stats["mean saturation"] == pytest.approx(0.25)
    assert stats["spread R"] == pytest.approx(np.std([1, 0, 0, 0]))


def test_the_frechet_distance_is_zero_to_itself_and_grows_with_a_shift_of_the_mean():
    a = np.random.default_rng(0).normal(size=(200, 10))
    assert colour.frechet(a, a) == pytest.approx(0, abs=1e-9)
    shift = np.linspace(0, 0.3, 10)
    assert colour.frechet(a, a + shift) == pytest.approx((shift ** 2).sum(), rel=1e-6)
    assert colour.frechet(a, a * 2) > colour.frechet(a, a * 1.1) > 0


def test_a_set_with_casts_scores_worse_than_a_natural_one():
    photos, natural = textured(200, seed=0), textured(100, seed=1)
    cast = textured(100, seed=2, cast=np.array([0.30, -0.20, 0.35]))  # magenta on every other postcard
    good, bad = colour.compare(natural, photos), colour.compare(cast, photos)
    assert bad.distance > 10 * good.distance
    assert good.distance < 3 * good.yardstick  # the natural set is as far from the photos as they are from themselves
    assert bad.cast_rate >= 0.45 and good.cast_rate <= 0.1
    assert good.yardstick == bad.yardstick and good.cast_yardstick <= 0.1
    assert "cast rate" in colour.summary(bad)


def test_too_few_photos_to_halve_are_refused():
    with pytest.raises(ValueError, match="at least 4"):
        colour.compare(textured(4, 0), textured(3, 1))
