"""Animal masks as a fourth channel: either polarity normalised, the animal kept apart from what only shares
its colour, crops that cut RGB and mask alike and keep the animal in frame, bad masks named."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from engine.errors import UserError
from training.data import TRIES, load_images

RED, GREEN = (220, 30, 30), (30, 160, 60)


def write_pair(photos, masks, stem, animal, *, animal_white=True, size=(90, 60)):
    """A green photo with a red animal where `animal` (bool H x W) is set, and its mask in either polarity."""
    rgb = np.empty((size[1], size[0], 3), np.uint8)
    rgb[:] = GREEN
    rgb[animal] = RED
    Image.fromarray(rgb).save(photos / f"{stem}.png")
    white = animal if animal_white else ~animal
    Image.fromarray(white.astype(np.uint8) * 255).save(masks / f"{stem}.png")


def blob(top, left, height, width, size=(90, 60)):
    animal = np.zeros((size[1], size[0]), bool)
    animal[top:top + height, left:left + width] = True
    return animal


@pytest.fixture
def folders(tmp_path):
    (tmp_path / "photos").mkdir(), (tmp_path / "masks").mkdir()
    return tmp_path / "photos", tmp_path / "masks"


@pytest.mark.parametrize("animal_white", [True, False])
def test_either_polarity_becomes_255_on_the_animal(folders, animal_white):
    photos, masks = folders
    for i, (top, left) in enumerate([(10, 10), (30, 50), (20, 30)]):
        write_pair(photos, masks, f"p{i}", blob(top, left, 12, 15), animal_white=animal_white)
    images = load_images(str(photos), 16, masks=str(masks))
    assert images.channels == 4 and images.masks.animal_white == animal_white and images.masks.outvoted == []
    for photo in images.photos:
        red = (photo[0] > 150) & (photo[1] < 100)
        assert torch.equal(photo[3] == 255, red) and set(photo[3].unique().tolist()) == {0, 255}


def test_the_folder_decides_the_polarity_so_a_large_animal_keeps_its_colour(folders):
    photos, masks = folders
    for i in range(3):
        write_pair(photos, masks, f"small{i}", blob(10 + 10 * i, 20, 10, 10), animal_white=False)
    write_pair(photos, masks, "large", blob(4, 4, 52, 80), animal_white=False)  # 77 % of the photo
    images = load_images(str(photos), 16, masks=str(masks))
    assert not images.masks.animal_white and images.masks.outvoted == ["large.png"]
    assert images.masks.votes_black == 3 and images.masks.votes_white == 1
    large = images.photos[images.names.index("large.png")]
    assert torch.equal(large[3] == 255, large[0] > 150)  # its animal, not its background


def test_the_animal_is_what_its_colour_encloses_not_what_touches_the_border(folders):
    photos, masks = folders
    animal = blob(25, 40, 10, 10)
    sky = blob(0, 0, 8, 90)  # animal-coloured too, along the top edge: not the animal
    write_pair(photos, masks, "hidden", animal, animal_white=True)
    Image.fromarray((animal | sky).astype(np.uint8) * 255).save(masks / "hidden.png")
    write_pair(photos, masks, "closeup", blob(0, 0, 30, 40))  # touches the border, nothing enclosed: kept
    write_pair(photos, masks, "none", blob(0, 0, 60, 60))  # 67 %, nothing enclosed: no animal
    images = load_images(str(photos), 16, masks=str(masks))
    by_name = dict(zip(images.names, images.photos))
    assert torch.equal(by_name["hidden.png"][3] == 255, torch.from_numpy(animal))
    assert torch.equal(by_name["closeup.png"][3] == 255, torch.from_numpy(blob(0, 0, 30, 40)))
    assert (by_name["none.png"][3] == 0).all()
    assert images.masks.whole == ["closeup.png"] and images.masks.empty == ["none.png"]


def test_mask_and_photo_are_cut_scaled_and_mirrored_alike(folders):
    photos, masks = folders
    rng = np.random.default_rng(0)
    for i in range(4):  # irregular animals, so a misplaced or unmirrored mask channel shows
        animal = np.zeros((60, 90), bool)
        for _ in range(3):
            y, x = rng.integers(5, 45), rng.integers(5, 75)
            animal[y:y + rng.integers(4, 12), x:x + rng.integers(4, 12)] = True
        write_pair(photos, masks, f"p{i}", animal, animal_white=False)
    images = load_images(str(photos), 16, masks=str(masks))
    crops = images.crops(torch.arange(4).repeat(25), 24, torch.Generator().manual_seed(3)).float()
    # filtering is linear: a pixel that is a share `a` animal has red a*RED + (1-a)*GREEN, its mask a*255
    share = (crops[:, 0] - GREEN[0]) / (RED[0] - GREEN[0])
    assert (crops[:, 3] > 200).any() and (crops[:, 3] < 50).any()
    assert (share * 255 - crops[:, 3]).abs().max() < 3  # the mask channel is the animal's share of each pixel


def test_crops_keep_the_animal_in_frame_far_more_often_than_chance(folders, caplog):
    caplog.set_level("INFO", logger="training.data")
    photos, masks = folders
    for i in range(4):  # small animals off centre: many random crops miss them
        write_pair(photos, masks, f"p{i}", blob(8 + 4 * i, 66, 8, 8), animal_white=False)
    images = load_images(str(photos), 16, masks=str(masks))
    indices = torch.arange(4).repeat(100)
    shares = {tries: float((images.crop_boxes(indices, torch.Generator().manual_seed(5), tries)[4] >= 0.5)
                           .float().mean()) for tries in (1, TRIES)}
    print(f"crops keeping >= half the animal: {shares[1]:.0%} by chance, {shares[TRIES]:.0%} with {TRIES} tries")
    assert shares[1] < 0.7 and shares[TRIES] > 0.95
    crops = images.crops(indices, 16, torch.Generator().manual_seed(5))
    assert (crops[:, 3].flatten(1).max(1).values > 128).float().mean() > 0.95  # and the pixels agree
    assert images.animal_in_frame() > 0.95 and images.animal_in_frame(tries=1) < 0.7
    assert f"crops keeping at least half the animal: {100 * images.animal_in_frame():.0f} %" in caplog.text


def test_a_photo_without_a_mask_is_left_out_and_named(folders, caplog):
    photos, masks = folders
    write_pair(photos, masks, "a", blob(10, 10, 10, 10))
    write_pair(photos, masks, "b", blob(20, 20, 10, 10))
    (masks / "b.png").unlink()
    images = load_images(str(photos), 16, masks=str(masks))
    assert images.names == ["a.png"] and images.masks.missing == [str(photos / "b.png")]
    assert any("b.png: no mask in" in s for s in images.skipped) and "b.png" in caplog.text


def test_a_mask_of_another_size_is_a_clear_error_naming_it(folders):
    photos, masks = folders
    write_pair(photos, masks, "a", blob(10, 10, 10, 10))
    Image.new("L", (45, 30)).save(masks / "a.png")
    with pytest.raises(UserError, match=r"a\.png: expected the size of its photo, 90x60, found 45x30"):
        load_images(str(photos), 16, masks=str(masks))


def test_an_unreadable_mask_is_a_clear_error_naming_it(folders):
    photos, masks = folders
    write_pair(photos, masks, "a", blob(10, 10, 10, 10))
    (masks / "a.png").write_bytes(b"\x89PNG but not really")
    with pytest.raises(UserError, match=r"--masks: .*a\.png: expected a readable image"):
        load_images(str(photos), 16, masks=str(masks))


def test_a_missing_mask_folder_or_a_dataset_name_is_refused(folders):
    photos, masks = folders
    write_pair(photos, masks, "a", blob(10, 10, 10, 10))
    with pytest.raises(UserError, match="--masks .*nowhere: expected a folder of masks"):
        load_images(str(photos), 16, masks=str(masks / "nowhere"))
    with pytest.raises(UserError, match="--masks .*: masks need --data to be a folder"):
        load_images("someone/some-dataset", 16, masks=str(masks))
