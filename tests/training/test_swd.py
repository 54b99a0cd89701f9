"""ProGAN's SWD: the pyramid, the descriptors, and that the distance orders sets the way the eye would."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from training.swd import descriptors, laplacian_pyramid, pyramid_levels, swd


def textures(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    """Made-up photos: random oriented stripes and blobs in colour, with edges and fine detail."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    images = []
    for _ in range(n):
        picture = np.zeros((size, size, 3))
        for _ in range(4):
            angle, frequency, phase = rng.uniform(0, np.pi), rng.uniform(2, 12), rng.uniform(0, 2 * np.pi)
            wave = np.sin(2 * np.pi * frequency * (x * np.cos(angle) + y * np.sin(angle)) + phase) > 0
            picture += wave[..., None] * rng.uniform(0, 70, 3)
        picture += rng.normal(0, 12, picture.shape)
        images.append(np.clip(picture, 0, 255).astype(np.uint8))
    return np.stack(images)


def blurred(images: np.ndarray, radius: float) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(i).filter(ImageFilter.GaussianBlur(radius))) for i in images])


@pytest.fixture(scope="module")
def photos():
    return textures(48)


def test_levels_halve_down_to_16_px():
    assert [pyramid_levels(r) for r in (16, 32, 64, 128)] == [1, 2, 3, 4]


def test_the_pyramid_adds_back_up_to_the_image():
    images = torch.rand(2, 3, 32, 32)
    fine, coarse = laplacian_pyramid(images, 2)
    assert fine.shape == (2, 3, 32, 32) and coarse.shape == (2, 3, 16, 16)
    assert fine.abs().mean() < images.abs().mean() / 2  # band-pass: mostly the detail
    # Upsampling the coarse level the same way and adding the details gives the image back.
    assert torch.allclose(laplacian_pyramid(images, 1)[0], images)


def test_descriptors_are_128_patches_per_image_per_level(photos):
    found = descriptors(photos[:5], torch.Generator().manual_seed(0))
    assert {size: tuple(d.shape) for size, d in found.items()} == {32: (640, 3, 7, 7), 16: (640, 3, 7, 7)}


def test_identical_sets_score_near_zero_and_worse_sets_worse(photos):
    same = swd(photos, photos).mean
    other_photos = swd(textures(48, seed=1), photos).mean
    brighter = swd(np.clip(photos.astype(int) + 40, 0, 255).astype(np.uint8), photos).mean
    blur_1, blur_2 = swd(blurred(photos, 1), photos).mean, swd(blurred(photos, 2), photos).mean
    assert same < 0.1 * blur_1
    assert same < other_photos < brighter
    assert other_photos < blur_1 < blur_2


def test_is_reproducible_and_checks_sizes(photos):
    assert swd(photos[:10], photos[10:20], seed=3).levels == swd(photos[:10], photos[10:20], seed=3).levels
    with pytest.raises(ValueError, match="one size"):
        swd(photos, textures(4, size=16))
