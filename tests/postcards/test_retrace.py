"""Retraced pictures: each mode changes the postcard inside and outside its animal as it promises."""

from __future__ import annotations

import numpy as np
import pytest

from engine.postcards.retrace import MODES, retraced


def postcard():
    """A muted green-brown postcard with a blob of an animal, painted in nearly the same colours."""
    rng = np.random.default_rng(0)
    image = (np.array([110, 120, 80]) + rng.normal(0, 12, (64, 96, 3))).clip(0, 255).astype(np.uint8)
    yy, xx = np.mgrid[0:64, 0:96]
    animal = (yy - 30) ** 2 / 14 ** 2 + (xx - 50) ** 2 / 22 ** 2 <= 1
    image[animal] = (image[animal].astype(int) + [12, 4, -6]).clip(0, 255)
    return image, animal, (animal * 255).astype(np.uint8)


def regions(animal):
    from scipy import ndimage

    deep_in = ndimage.binary_erosion(animal, iterations=6)
    far_out = ~ndimage.binary_dilation(animal, iterations=8)
    return deep_in, far_out


def saturation(pixels):
    pixels = pixels.astype(float)
    return float((pixels.max(-1) - pixels.min(-1)).mean())


def test_outline_draws_the_edge_and_leaves_the_rest():
    image, animal, mask = postcard()
    out = retraced(image, mask)["outline"]
    deep_in, far_out = regions(animal)
    assert np.array_equal(out[deep_in], image[deep_in]) and np.array_equal(out[far_out], image[far_out])
    from scipy import ndimage
    edge = animal & ~ndimage.binary_erosion(animal)
    assert (np.abs(out[edge].astype(int) - image[edge]).sum(-1) > 100).mean() > 0.95  # a bright line all round


def test_spotlight_darkens_outside_and_keeps_the_animal():
    image, animal, mask = postcard()
    out = retraced(image, mask)["spotlight"].astype(float)
    deep_in, far_out = regions(animal)
    assert out[far_out].mean() < 0.3 * image[far_out].mean()
    assert abs(out[deep_in].mean() - image[deep_in].mean()) < 0.03 * image[deep_in].mean()


def test_uncamouflage_raises_colour_and_contrast_inside_only():
    image, animal, mask = postcard()
    out = retraced(image, mask)["uncamouflage"]
    deep_in, far_out = regions(animal)
    assert saturation(out[deep_in]) > 1.6 * saturation(image[deep_in])
    assert out[deep_in].astype(float).std(0).mean() > 1.2 * image[deep_in].astype(float).std(0).mean()
    assert np.abs(out[far_out].astype(int) - image[far_out]).max() <= 1


def test_no_animal_means_nothing_to_retrace():
    image, _, _ = postcard()
    assert retraced(image, np.zeros(image.shape[:2], np.uint8)) == {}
    assert set(retraced(*postcard()[::2])) == set(MODES)


def test_a_mask_of_another_size_is_refused():
    image, _, mask = postcard()
    with pytest.raises(ValueError, match=r"expected an \(H, W, 3\) picture and an \(H, W\) mask"):
        retraced(image, mask[:10])
