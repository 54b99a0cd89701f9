"""Reading training images: every format and mode we promise, bad files listed, clear errors, crops."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from engine.errors import UserError
from training.data import MIN_SCALE, load_images, stored_size


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
    try:
        import datasets  # noqa: F401  (an optional extra)
        expected = "could not be loaded from the Hugging Face hub.*local folder"
    except ImportError:
        expected = "needs the `datasets` package.*local folder"
    with pytest.raises(UserError, match=expected):
        load_images("someone/camouflage-photos-that-are-not-cached", 32)


def test_transparent_parts_become_white(tmp_path):
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., 0] = 255  # red everywhere, but only the left half opaque
    rgba[:, :20, 3] = 255
    Image.fromarray(rgba).save(tmp_path / "half.png")
    pixels = load_images(str(tmp_path), 32).pixels[0]
    assert pixels[:, 18, 2].tolist() == [255, 0, 0] and pixels[:, 18, -3].tolist() == [255, 255, 255]



def test_photos_are_kept_whole_at_their_own_size_with_the_short_side_capped(tmp_path):
    rng = np.random.default_rng(2)
    Image.fromarray((rng.random((50, 70, 3)) * 255).astype(np.uint8)).save(tmp_path / "small.png")
    Image.fromarray((rng.random((900, 600, 3)) * 255).astype(np.uint8)).save(tmp_path / "tall.png")
    images = load_images(str(tmp_path), 32, short_side=300)
    assert [tuple(p.shape) for p in images.photos] == [(3, 50, 70), (3, 450, 300)]
    assert all(p.dtype == torch.uint8 for p in images.photos) and images.names == ["small.png", "tall.png"]
    assert load_images(str(tmp_path), 32).photos[1].shape[-1] == 512  # the default cap: max(4 x 32, 512)


def coordinate_photo(folder, height=60, width=90):
    """A photo whose red and green channels are its column and row: every crop says where it came from."""
    rows, cols = np.mgrid[0:height, 0:width]
    rgb = np.stack([cols * 255 // (width - 1), rows * 255 // (height - 1), np.full_like(rows, 128)], -1)
    Image.fromarray(rgb.astype(np.uint8)).save(folder / "coordinates.png")


def test_crops_are_scaled_windows_of_the_whole_photo_mirrored_at_random(tmp_path):
    coordinate_photo(tmp_path)
    images = load_images(str(tmp_path), 16)
    indices = torch.zeros(200, dtype=torch.long)
    top, left, side, mirrored, _ = images.crop_boxes(indices, torch.Generator().manual_seed(1))
    assert side.min() >= int(MIN_SCALE * 60) and side.max() <= 60 and side.float().std() > 5  # several scales
    assert (top >= 0).all() and (left >= 0).all() and (top + side <= 60).all() and (left + side <= 90).all()
    assert 0.3 < mirrored.float().mean() < 0.7 and left.max() > 25  # flips, and windows all over the photo
    crops = images.crops(indices, 16, torch.Generator().manual_seed(1)).float()
    assert crops.shape == (200, 3, 16, 16) and images.crops(indices, 16, torch.Generator()).dtype == torch.uint8
    # the red channel runs along the columns: its ends say where the window lay and whether it was mirrored
    first, last = crops[:, 0, 8, :2].mean(1), crops[:, 0, 8, -2:].mean(1)
    start, stop = left * 255 / 89, (left + side - 1) * 255 / 89
    assert torch.equal(first > last, mirrored)
    near = torch.where(mirrored, last, first)
    assert ((near - start).abs() < 0.12 * (stop - start) + 3).all()
    green = crops[:, 1].mean((1, 2))  # rows: the mean green is the window's middle row
    assert ((green - (top + side / 2) * 255 / 59).abs() < 4).all()


def test_crops_repeat_for_a_seed_and_differ_for_another(tmp_path):
    write_mixed_folder(tmp_path)
    images = load_images(str(tmp_path), 16)
    indices = torch.tensor([0, 1, 2, 3, 4, 5, 0, 1])
    a = images.crops(indices, 16, torch.Generator().manual_seed(7))
    assert torch.equal(a, images.crops(indices, 16, torch.Generator().manual_seed(7)))
    assert not torch.equal(a, images.crops(indices, 16, torch.Generator().manual_seed(8)))
    # the generator advances the same way whatever the photos hold: later draws do not depend on them
    one, other = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    images.crops(indices, 16, one)
    images.crops(torch.zeros(8, dtype=torch.long), 16, other)
    assert torch.equal(torch.rand(4, generator=one), torch.rand(4, generator=other))


def test_an_image_set_moves_to_a_device_whole(tmp_path):
    write_mixed_folder(tmp_path)
    images = load_images(str(tmp_path), 16)
    moved = images.to("cpu" if not torch.cuda.is_available() else "cuda")
    assert moved.device == moved.photos[0].device == moved.pixels.device and len(moved) == len(images)
    assert all(torch.equal(a, b.cpu()) for a, b in zip(images.photos, moved.photos))
    assert moved.crops(torch.tensor([0, 1]), 16, torch.Generator()).device == moved.device
