"""Malicious model folders (issue 16, class 3): each ends in a clear UserError naming its file and key, read
from JSON and the safetensors header alone, before torch allocates anything (a config asking for 100,000
channels once made torch try 16 GB) and without running code (pickle files are refused)."""

from __future__ import annotations

import json
import os
import shutil
import struct

import pytest

from engine.errors import UserError
from engine.postcards.store import load_model, model_side

WEIGHTS = "unet/diffusion_pytorch_model.safetensors"


def edit_config(folder, **changes):
    path = folder / "unet" / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def header(folder):
    data = (folder / WEIGHTS).read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + length]), data[8 + length:]


def write_weights(folder, head, body):
    raw = json.dumps(head).encode()
    (folder / WEIGHTS).write_bytes(struct.pack("<Q", len(raw)) + raw + body)


def huge_channels(folder):
    edit_config(folder, block_out_channels=[100_000, 100_000])


def huge_side(folder):
    edit_config(folder, sample_size=1_000_000)


def side_as_text(folder):
    edit_config(folder, sample_size="64")


def side_as_float(folder):
    edit_config(folder, sample_size=32.5)


def many_layers(folder):
    edit_config(folder, layers_per_block=10**9)


def unknown_block(folder):
    config = json.loads((folder / "unet" / "config.json").read_text())
    edit_config(folder, down_block_types=["CrossAttnDownBlock2D"] * len(config["block_out_channels"]))


def groups_not_dividing(folder):
    edit_config(folder, norm_num_groups=7)


def config_not_json(folder):
    (folder / "unet" / "config.json").write_text("[" * 100_000)


def config_a_device(folder):
    (folder / "unet" / "config.json").unlink()
    (folder / "unet" / "config.json").symlink_to("/dev/zero")


def config_a_fifo(folder):
    (folder / "unet" / "config.json").unlink()
    os.mkfifo(folder / "unet" / "config.json")


def header_shape_mismatch(folder):
    config = json.loads((folder / "unet" / "config.json").read_text())
    edit_config(folder, block_out_channels=[c * 2 for c in config["block_out_channels"]])


def header_lies_about_length(folder):
    data = (folder / WEIGHTS).read_bytes()
    (folder / WEIGHTS).write_bytes(struct.pack("<Q", 2**62) + data[8:])


def header_lies_about_shapes(folder):
    head, body = header(folder)
    head["conv_in.weight"]["shape"] = [50_000, 50_000, 3, 3]
    write_weights(folder, head, body)


def header_lies_about_offsets(folder):
    head, body = header(folder)
    head["conv_out.weight"]["data_offsets"] = [0, 2**40]
    write_weights(folder, head, body)


def weights_are_pickle(folder):
    (folder / WEIGHTS).rename(folder / "unet" / "diffusion_pytorch_model.bin")


def weights_link_outside(folder):
    outside = folder.parent / f"{folder.name}-elsewhere.safetensors"
    shutil.move(folder / WEIGHTS, outside)
    (folder / WEIGHTS).symlink_to(outside)


def weights_link_to_dev_zero(folder):
    (folder / WEIGHTS).unlink()
    (folder / WEIGHTS).symlink_to("/dev/zero")


def scheduler_huge(folder):
    path = folder / "scheduler" / "scheduler_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "num_train_timesteps": 10**12}))


CASES = [
    (huge_channels, r"unet/config\.json: key 'block_out_channels'"),
    (huge_side, r"unet/config\.json: key 'sample_size'"),
    (side_as_text, r"unet/config\.json: key 'sample_size'.*found '64'"),
    (side_as_float, r"unet/config\.json: key 'sample_size'"),
    (many_layers, r"unet/config\.json: key 'layers_per_block'"),
    (unknown_block, r"unet/config\.json: key 'down_block_types'"),
    (groups_not_dividing, r"unet/config\.json: key 'norm_num_groups'"),
    (config_not_json, r"unet/config\.json: expected JSON"),
    (config_a_device, r"lacks unet/config\.json"),  # not a regular file: as good as none
    (config_a_fifo, r"lacks unet/config\.json"),
    (header_shape_mismatch, r"safetensors: tensor 'conv_in\.weight': expected the shape"),
    (header_lies_about_length, r"safetensors: expected a safetensors header of at most"),
    (header_lies_about_shapes, r"safetensors: tensor 'conv_in\.weight': its shape .* does not fit"),
    (header_lies_about_offsets, r"safetensors: tensor 'conv_out\.weight': its shape .* does not fit"),
    (weights_are_pickle, r"pickle"),
    (weights_link_outside, r"safetensors: expected the weights inside .*found a link to"),
    (weights_link_to_dev_zero, r"safetensors: expected the weights inside .*found a link to /dev/zero"),
    (scheduler_huge, r"scheduler_config\.json: key 'num_train_timesteps'"),
]


@pytest.mark.parametrize("spoil, message", CASES, ids=[spoil.__name__ for spoil, _ in CASES])
def test_a_malicious_model_folder_is_a_clear_error(tmp_path, tiny_model, spoil, message):
    folder = tmp_path / "evil"
    shutil.copytree(tiny_model, folder)
    spoil(folder)
    with pytest.raises(UserError, match=message):
        load_model(folder, "cpu")


def test_the_picture_size_of_a_bad_config_is_unknown_not_a_crash(tmp_path, tiny_model):
    folder = tmp_path / "evil"
    shutil.copytree(tiny_model, folder)
    assert model_side(folder) == 32
    side_as_text(folder)
    assert model_side(folder) is None  # the show starts; the sampler says why this model cannot paint


def test_a_sound_model_still_loads(tiny_model):
    assert load_model(tiny_model, "cpu").resolution == 32
