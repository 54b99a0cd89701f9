"""Reading training images: every format and mode we promise, bad files listed, clear errors, augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from engine.errors import UserError
from training.data import augment, load_images, stored_size


def write_mixed_folder(folder):
    (folder / "nested" / "deeper").mkdir(parents=True)
    rng = np.random.default_rng(1)
    rgb = (rng.random((50, 70, 3)) * 255).astype(np.uint8)
    Image.fromarray(rgb).save(folder / "a.jpg")
    Image.fromarray(rgb).save(folder / "B.JPEG")
    Image.fromarray(rgb).convert("RGBA").save(folder / "nested" / "c.PNG")
    Image.fromarray(rgb).convert("P").save(folder / "nested" / "palette.png")
    Image.fromarray(rgb).convert("L").save(folder / "nested" / "deeper" / "grey.png")
    Image.fromarray(rgb).save(folder / "nested" / "deeper" / "e.webp")
    (folder / "notes.txt").write_text("not an image")
    return 6


def test_every_promised_format_and_mode_loads_as_rgb_squares(tmp_path):
    n = write_mixed_folder(tmp_path)
    images = load_images(str(tmp_path), 32)
    assert images.pixels.shape == (n, 3, stored_size(32), stored_size(32))
    assert images.pixels.dtype == torch.uint8 and images.skipped == []
    grey = [p for p in images.pixels if torch.equal(p[0], p[1]) and torch.equal(p[1], p[2])]
    assert len(grey) == 1 and grey[0].float().std() > 10  # the grey one became 3 equal channels of content


def test_corrupt_files_are_skipped_and_listed(tmp_path, caplog):
    write_mixed_folder(tmp_path)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    (tmp_path / "empty.png").write_bytes(b"")
    images = load_images(str(tmp_path), 32)
    assert len(images) == 6
    assert sorted(s.split(":")[0].rsplit("/", 1)[-1] for s in images.skipped) == ["broken.jpg", "empty.png"]
    assert "broken.jpg" in caplog.text


def test_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match=r"--data .*: expected image files .* found none"):
        load_images(str(tmp_path), 32)


def test_no_readable_image_is_a_clear_error_listing_the_files(tmp_path):
    (tmp_path / "one.jpg").write_bytes(b"garbage")
    (tmp_path / "two.png").write_bytes(b"more garbage")
    with pytest.raises(UserError, match="none could be decoded") as e:
        load_images(str(tmp_path), 32)
    assert "one.jpg" in str(e.value) and "two.png" in str(e.value)


def test_a_file_is_not_a_dataset(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"")
    with pytest.raises(UserError, match="found a file"):
        load_images(str(tmp_path / "x.jpg"), 32)


def test_a_dataset_name_without_the_hub_says_how_to_pass_a_folder(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="could not be loaded from the Hugging Face hub.*local folder"):
        load_images("someone/camouflage-photos-that-are-not-cached", 32)


def test_augment_crops_flips_and_is_reproducible():
    stored = torch.arange(4 * 3 * 36 * 36, dtype=torch.int64).remainder(256).to(torch.uint8).reshape(4, 3, 36, 36)
    indices = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    a = augment(stored, indices, 32, torch.Generator().manual_seed(5))
    b = augment(stored, indices, 32, torch.Generator().manual_seed(5))
    c = augment(stored, indices, 32, torch.Generator().manual_seed(6))
    assert a.shape == (8, 3, 32, 32) and a.dtype == torch.float32
    assert a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)
    # every output is a (maybe mirrored) 32 px window of its source image
    for out, i in zip(a, indices):
        source = stored[i].float() / 127.5 - 1
        windows = [source[:, y:y + 32, x:x + 32] for y in range(5) for x in range(5)]
        assert any(torch.equal(out, w) or torch.equal(out, w.flip(-1)) for w in windows)


def test_transparent_parts_become_white(tmp_path):
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., 0] = 255  # red everywhere, but only the left half opaque
    rgba[:, :20, 3] = 255
    Image.fromarray(rgba).save(tmp_path / "half.png")
    pixels = load_images(str(tmp_path), 32).pixels[0]
    assert pixels[:, 18, 2].tolist() == [255, 0, 0] and pixels[:, 18, -3].tolist() == [255, 255, 255]

