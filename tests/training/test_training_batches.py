"""What each step sees: reproducible from (seed, step, process), every image once an epoch, processes disjoint."""

from __future__ import annotations

import torch

from training.batches import Batches
from training.data import ImageSet


def stored(n: int = 10, channels: int = 3):
    """Photos of different sizes, as training.data keeps them (centre squares too, which Batches leaves alone)."""
    g = torch.Generator().manual_seed(0)
    photos = [torch.randint(0, 256, (channels, 40 + i, 56 - i), dtype=torch.uint8, generator=g) for i in range(n)]
    return ImageSet(photos=photos, pixels=torch.zeros((n, channels, 36, 36), dtype=torch.uint8), source="test")


def batches(images, **kw):
    settings = dict(resolution=32, batch=4, processes=1, rank=0, seed=3, timesteps=1000)
    return Batches(images, **{**settings, **kw})


def test_a_step_is_the_same_whenever_it_is_asked_for():
    images = stored()
    fresh, used = batches(images), batches(images)
    for step in range(7):  # `used` has walked through earlier steps and epochs; `fresh` jumps straight there
        used(step)
    for a, b in zip(fresh(6), used(6)):
        assert torch.equal(a, b)
    assert not torch.equal(fresh(6)[1], fresh(7)[1])
    assert not torch.equal(fresh(6)[1], batches(images, seed=4)(6)[1])


def test_an_epoch_sees_every_image_and_fills_its_last_step():
    b = batches(stored(10))
    assert b.steps_per_epoch == 3
    seen = torch.cat([b.indices(step) for step in range(3)])
    assert len(seen) == 12 and set(seen.tolist()) == set(range(10))
    assert not torch.equal(torch.cat([b.indices(s) for s in range(3, 6)]), seen)  # next epoch, new order


def test_processes_take_disjoint_slices_of_one_global_batch():
    images = stored(16)
    ranks = [batches(images, processes=2, rank=r) for r in range(2)]
    assert ranks[0].steps_per_epoch == 2
    for step in range(2):
        a, b = (set(r.indices(step).tolist()) for r in ranks)
        assert len(a) == len(b) == 4 and not a & b
    assert not torch.equal(ranks[0](0)[1], ranks[1](0)[1])  # their own noise


def test_clean_images_noise_and_timesteps_have_the_training_shapes():
    clean, noise, timesteps = batches(stored())(0)
    assert clean.shape == noise.shape == (4, 3, 32, 32)
    assert clean.is_contiguous(memory_format=torch.channels_last)
    assert timesteps.shape == (4,) and 0 <= timesteps.min() and timesteps.max() < 1000
    assert -1 <= clean.min() and clean.max() <= 1


def test_a_mask_channel_travels_with_its_photo():
    clean, noise, _ = batches(stored(channels=4))(0)
    assert clean.shape == noise.shape == (4, 4, 32, 32)
