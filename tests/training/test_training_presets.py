"""Model presets: sizes as promised, and a resolution the UNet cannot take says which ones it can."""

from __future__ import annotations

import pytest

from engine.errors import UserError
from training.presets import PRESETS, check_resolution, make_unet


def count(unet) -> int:
    return sum(p.numel() for p in unet.parameters())


def test_tiny_is_under_a_million_parameters_and_small_is_cpu_sized():
    assert count(make_unet("tiny", 32)) < 1_000_000
    assert 3_000_000 < count(make_unet("small", 64)) < 6_000_000


def test_small_128_is_small_with_one_thin_level_on_top():
    small, fine = PRESETS["small"], PRESETS["small-128"]
    assert fine.block_out_channels[1:] == small.block_out_channels and fine.block_out_channels[0] == 16
    assert fine.down_block_types[1:] == small.down_block_types  # attention at 16 px, as small's at 64 px
    assert fine.resolution == 128 and 3_000_000 < count(make_unet("small-128", 128, channels=4)) < 6_000_000


def test_base_is_the_artists_unet():
    base = PRESETS["base"]
    assert base.block_out_channels == (128, 128, 256, 256, 512, 512) and base.layers_per_block == 2
    assert base.down_block_types[4] == "AttnDownBlock2D" and base.up_block_types[1] == "AttnUpBlock2D"
    assert base.resolution == 128


def test_the_unet_takes_the_resolution_it_was_made_for():
    import torch

    unet = make_unet("tiny", 48)
    assert unet.config.sample_size == 48
    with torch.no_grad():
        assert unet(torch.zeros(1, 3, 48, 48), 10).sample.shape == (1, 3, 48, 48)


@pytest.mark.parametrize("preset, resolution, factor, example", [
    ("tiny", 33, 2, "32, 34"), ("small", 100, 8, "96, 104"), ("base", 100, 32, "96, 128"), ("small", 4, 8, "8, 16")])
def test_a_resolution_the_unet_cannot_take_says_which_sizes_work(preset, resolution, factor, example):
    with pytest.raises(UserError, match=rf"--resolution: the {preset} preset takes multiples of {factor} "
                                        rf"\(e\.g\. {example}.*found {resolution}"):
        check_resolution(preset, resolution)


def test_an_unknown_preset_is_named():
    with pytest.raises(UserError, match="--preset: expected one of tiny, small, small-128, base, found 'huge'"):
        check_resolution("huge", 64)


def test_the_command_line_offers_exactly_the_presets():
    import argparse

    from training.cli import configure

    parser = argparse.ArgumentParser()
    configure(parser)
    [preset] = [a for a in parser._actions if a.dest == "preset"]
    assert tuple(preset.choices) == tuple(PRESETS)


def test_a_mask_channel_and_the_norm_groups_shape_the_unet():
    import torch

    unet = make_unet("tiny", 32, channels=4, norm_groups=8)
    assert unet.config.in_channels == unet.config.out_channels == 4 and unet.config.norm_num_groups == 8
    with torch.no_grad():
        assert unet(torch.zeros(1, 4, 32, 32), 10).sample.shape == (1, 4, 32, 32)
    assert make_unet("tiny", 32).config.norm_num_groups == PRESETS["tiny"].norm_num_groups


def test_norm_groups_that_do_not_divide_the_channels_are_refused():
    with pytest.raises(UserError, match="--norm-groups: the small preset's channels 32, 64, 128, 128 must all "
                                        "divide by it.*found 12"):
        make_unet("small", 64, norm_groups=12)
