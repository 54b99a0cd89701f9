"""Morph and dream with the shipped model (models/default, eight DPM-Solver++ steps): the in-betweens are
pictures of their own (neither postcard, nor their pixel average) on a way from one to the other, a dream
stays near its picture, and slerp keeps the noise as loud as noise."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from engine.postcards.maker import PREVIEWS, PostcardMaker, Recipe
from engine.settings.config import PROJECT_ROOT
from engine.postcards.morph import dream, morph, slerp
from engine.postcards.sample import sample, start_noise


@pytest.fixture(scope="module")
def maker():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the worker on 2 cores: two threads on a busy machine wait for each other
    maker = PostcardMaker("cpu")
    maker.use(Recipe(str(PROJECT_ROOT / "models" / "default"), "dpmsolver++", 8))
    yield maker
    torch.set_num_threads(threads)


def test_slerp_ends_on_its_ends_and_keeps_the_noise_as_loud():
    a, b = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)).split(1)
    assert torch.allclose(slerp(a, b, 0.0), a) and torch.allclose(slerp(a, b, 1.0), b, atol=1e-6)
    middle = slerp(a, b, 0.5)
    assert middle.norm() == pytest.approx(float((a.norm() + b.norm()) / 2), rel=0.02)
    assert (a + b).div(2).norm() < 0.8 * middle.norm()   # the straight average is too quiet: why slerp


def test_the_middle_of_a_morph_is_neither_postcard_nor_their_average(maker):
    a, b = maker.make(11)[0][0].astype(float), maker.make(12)[0][0].astype(float)
    frames = morph(maker, 11, 12, count=3)
    assert len(frames) == 3 and frames[1].shape == a.shape and frames[1].dtype == np.uint8
    middle = frames[1].astype(float)
    gap = np.abs(a - b).mean()
    assert np.abs(middle - a).mean() > 0.2 * gap
    assert np.abs(middle - b).mean() > 0.2 * gap
    assert np.abs(middle - (a + b) / 2).mean() > 0.1 * gap
    # The way there is a way: each in-between is nearer a than the next one is.
    assert [np.abs(f.astype(float) - a).mean() for f in frames] == sorted(np.abs(f.astype(float) - a).mean() for f in frames)


def test_noise_handed_in_is_the_seeds_own_noise_unchanged(maker):
    noise, _ = start_noise(maker.model.unet, 1, 11)
    same = sample(maker.model.unet, maker.scheduler, n=1, steps=8, seed=11, noise=noise, anchor=maker.model.anchor)
    assert np.array_equal(same, maker.make(11)[0])


def test_a_dream_stays_near_the_picture_and_changes_it(maker):
    picture = maker.make(3)[0][0]
    dreamt = dream(maker, picture, seed=4, strength=0.5)
    assert dreamt.shape == picture.shape
    assert not np.array_equal(dreamt, picture)
    far = maker.make(4)[0][0]
    assert np.abs(dreamt.astype(float) - picture).mean() < np.abs(far.astype(float) - picture).mean()
    assert np.array_equal(dreamt, dream(maker, picture, seed=4, strength=0.5))  # deterministic


def test_a_morph_recipe_paints_in_betweens_from_the_postcard_before_in_the_worker_and_inline(tiny_model):
    from dataclasses import replace as changed

    from engine.postcards.inline import InlineSampler
    from engine.postcards.worker import SamplerClient
    from engine.settings.config import load_config

    config = load_config()
    config = changed(config, sampler=changed(config.sampler, queue=2, device="cpu"))
    recipe = Recipe(str(tiny_model), "ddim", 3, morph=True)
    seeds = iter(range(500, 600))
    client = SamplerClient(config, lambda: next(seeds), side=32, min_delay=0.1)
    client.configure(recipe)
    got, end = [], time.monotonic() + 120
    try:
        while len(got) < 2 and time.monotonic() < end:
            client.poll(time.monotonic())
            postcard = client.take()
            got.append(postcard) if postcard is not None else time.sleep(0.02)
    finally:
        client.close()
    first, second = got
    assert first.morph_from is None and first.previews == []           # nothing before it to grow from
    assert second.morph_from == 500 and len(second.previews) == PREVIEWS
    inline = InlineSampler(config, iter([500, 501]).__next__)
    inline.configure(recipe)
    inline.take()
    again = inline.take()                                               # the same in-betweens, painted here
    assert again.morph_from == 500
    # The same pictures, up to rounding: the worker's torch runs on other threads than this process's.
    for here, there in zip([again.image, *again.previews], [second.image, *second.previews]):
        assert np.abs(here.astype(int) - there).max() <= 2


def test_a_dream_recipe_paints_each_postcard_from_the_one_before(tiny_model):
    from engine.postcards.inline import InlineSampler
    from engine.settings.config import load_config

    inline = InlineSampler(load_config(), iter([7, 8, 9]).__next__)
    inline.configure(Recipe(str(tiny_model), "ddim", 4, dream=True))
    first, second = inline.take(), inline.take()
    maker = PostcardMaker("cpu")
    maker.use(Recipe(str(tiny_model), "ddim", 4))
    np.testing.assert_array_equal(first.image, maker.make(7)[0][0])     # the first comes from noise
    np.testing.assert_array_equal(second.image, dream(maker, first.image, 8))
