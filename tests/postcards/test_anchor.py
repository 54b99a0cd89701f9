"""The colour anchor: the UNet's output is steered so its clean-picture guess takes a photo's mean colour and
keeps its detail; a model folder's colours.json is checked; a real (tiny) model sampled with the anchor ends
on the colours it drew, the same ones for the same seed."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from engine.errors import UserError
from engine.postcards import anchor
from engine.postcards.schedulers import make_scheduler
from engine.postcards.sample import sample
from engine.postcards.store import check_model, load_model


def guess(output, x, acp, prediction):
    a, s = acp ** 0.5, (1 - acp) ** 0.5
    return a * x - s * output if prediction == "v_prediction" else (x - s * output) / a


@pytest.mark.parametrize("prediction", ["v_prediction", "epsilon"])
@pytest.mark.parametrize("timestep", [999, 600, 10])
def test_steering_gives_the_guess_the_colour_and_keeps_its_detail(prediction, timestep):
    g = torch.Generator().manual_seed(0)
    acp = torch.linspace(0.9999, 1e-4, 1000)
    x, output = torch.randn(2, 4, 16, 16, generator=g), torch.randn(2, 4, 16, 16, generator=g)
    colours = torch.tensor([[0.2, -0.1, -0.5], [-0.6, 0.0, 0.4]])
    steered = anchor.steer(output, x, timestep, colours, acp, prediction)
    before, after = guess(output, x, float(acp[timestep]), prediction), guess(steered, x, float(acp[timestep]), prediction)
    assert torch.allclose(after[:, :3].mean(dim=(2, 3)), colours, atol=1e-4)
    detail = lambda picture: picture[:, :3] - picture[:, :3].mean(dim=(2, 3), keepdim=True)  # noqa: E731
    assert torch.allclose(detail(after), detail(before), atol=1e-4)
    assert torch.equal(steered[:, 3], output[:, 3])  # the mask channel is not a colour


def test_a_folder_without_colours_has_no_anchor_and_bad_colours_are_named(tmp_path):
    assert anchor.read(tmp_path) is None
    anchor.write(tmp_path, np.array([[0.5, 0.4, 0.3]]), 300)
    read = anchor.read(tmp_path)
    assert read.down_to == 300 and read.colours.tolist() == [[0.5, 0.4, 0.3]]
    for bad, key in [({"mean_colours": [[0.5, 0.4]], "anchor_down_to_timestep": 300}, "mean_colours"),
                     ({"mean_colours": [[0.5, 0.4, 1.5]], "anchor_down_to_timestep": 300}, "mean_colours"),
                     ({"mean_colours": "red", "anchor_down_to_timestep": 300}, "mean_colours"),
                     ({"mean_colours": [[0.5, 0.4, 0.3]] * (anchor.MAX_COLOURS + 1), "anchor_down_to_timestep": 0},
                      "mean_colours"),
                     ({"mean_colours": [[0.5, 0.4, 0.3]], "anchor_down_to_timestep": -1}, "anchor_down_to_timestep")]:
        (tmp_path / anchor.FILE).write_text(json.dumps(bad))
        with pytest.raises(UserError, match=rf"colours\.json: key '{key}': expected"):
            anchor.read(tmp_path)


def test_a_model_with_colours_paints_each_postcard_in_the_colour_it_drew(tiny_model, tmp_path):
    folder = shutil.copytree(tiny_model, tmp_path / "anchored")
    palette = np.array([[0.8, 0.2, 0.1], [0.1, 0.7, 0.2], [0.2, 0.3, 0.9]])
    anchor.write(folder, palette, 0)  # anchored all the way down: the last guess is the picture
    check_model(folder)
    model = load_model(folder, "cpu")
    scheduler = make_scheduler("ddim", model.scheduler_config)
    picks = model.anchor.pick(5, 6)
    pictures = sample(model.unet, scheduler, n=6, steps=6, seed=5, anchor=model.anchor)
    means = pictures.reshape(6, -1, 3).mean(axis=1) / 255
    assert np.abs(means - (picks.numpy() + 1) / 2).max() < 0.08  # clipping to [0, 255] moves it a little
    assert len({tuple(p) for p in picks.tolist()}) > 1  # the seeds draw different photos' colours
    assert np.array_equal(pictures, sample(model.unet, scheduler, n=6, steps=6, seed=5, anchor=model.anchor))
    free = sample(model.unet, scheduler, n=6, steps=6, seed=5)
    assert np.abs(free.reshape(6, -1, 3).mean(axis=1) / 255 - means).max() > 0.1


def test_a_broken_colours_file_stops_the_model_check(tiny_model, tmp_path):
    folder = shutil.copytree(tiny_model, tmp_path / "broken")
    (folder / anchor.FILE).write_text("[1, 2")
    with pytest.raises(UserError, match="colours.json: expected JSON"):
        check_model(folder)
