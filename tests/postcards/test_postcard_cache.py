"""The on-disk cache of the last postcards: what a show starts with before its sampler has painted anything."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from engine.postcards.cache import CAPACITY, PostcardCache, cache_folder
from engine.postcards.maker import Postcard


def postcard(seed: int, value: int) -> Postcard:
    return Postcard(seed, np.full((16, 24, 3), value, dtype=np.uint8))


def test_postcards_come_back_newest_first_and_bounded(tmp_path, tiny_model):
    folder = cache_folder(tmp_path / "state", tiny_model)
    cache = PostcardCache(folder, tiny_model, capacity=3)
    for i in range(5):
        cache.add(postcard(100 + i, 10 * i))
        cache.close()  # waits for the writer: the test wants every postcard on disk
    again = PostcardCache(folder, tiny_model, capacity=3).load()
    assert [p.seed for p in again] == [104, 103, 102]
    assert [int(p.image[0, 0, 0]) for p in again] == [40, 30, 20]
    assert again[0].image.shape == (16, 24, 3)
    assert len(list(folder.glob("*.png"))) == 3
    assert not list(folder.glob(".*"))  # no partial files left


def test_a_retrained_model_gets_a_folder_of_its_own(tmp_path, tiny_model):
    before = cache_folder(tmp_path, tiny_model)
    weights = next((tiny_model / "unet").glob("*.safetensors"))
    stat = weights.stat()
    try:
        os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        assert cache_folder(tmp_path, tiny_model) != before
    finally:
        os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_a_model_never_shown_starts_with_its_own_samples(tmp_path, tiny_model):
    model = tmp_path / "model"
    (model / "samples").mkdir(parents=True)
    Image.new("RGB", (8, 8), (200, 10, 10)).save(model / "samples" / "postcard_000.png")
    found = PostcardCache(cache_folder(tmp_path / "state", model), model).load()
    assert len(found) == 1 and tuple(found[0].image[0, 0]) == (200, 10, 10)


def test_files_that_are_not_postcards_are_skipped_not_fatal(tmp_path, tiny_model):
    folder = cache_folder(tmp_path / "state", tiny_model)
    folder.mkdir(parents=True)
    (folder / "000000001-5.png").write_bytes(b"not a png")
    os.mkfifo(folder / "000000002-6.png")  # would block a reader that opens it
    Image.new("RGB", (4, 4)).save(folder / "000000000-7.png")
    found = PostcardCache(folder, tiny_model).load()
    assert [p.seed for p in found] == [7]


def test_an_unwritable_cache_costs_nothing_but_the_cache(tmp_path, tiny_model):
    blocker = tmp_path / "state"
    blocker.write_text("a file where the folder should be")
    cache = PostcardCache(cache_folder(blocker, tiny_model), tiny_model)
    for i in range(CAPACITY + 5):  # never blocks, never raises
        cache.add(postcard(i, 1))
    cache.close()
    assert cache.load() == []
