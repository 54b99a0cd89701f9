"""Model presets: the UNet2DModel shapes the project trains, from a test-sized one to the artist's 128 px one."""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import UserError


@dataclass(frozen=True)
class Preset:
    block_out_channels: tuple[int, ...]
    layers_per_block: int
    down_block_types: tuple[str, ...]
    up_block_types: tuple[str, ...]
    resolution: int  # the default training size
    summary: str
    # GroupNorm groups. 32 groups on 32 channels normalise each channel on its own (instance norm), which
    # hides the input's mean colour; yet 8 groups lost the equal-time comparison (docs/benchmarks.md,
    # Training recipes): grainier, higher SWD and colour distance at the same steps. --norm-groups tries others.
    norm_num_groups: int = 32

    @property
    def downsample_factor(self) -> int:
        return 2 ** (len(self.block_out_channels) - 1)


PRESETS = {
    "tiny": Preset((32, 64), 1, ("DownBlock2D", "DownBlock2D"), ("UpBlock2D", "UpBlock2D"), 32,
                   "tests: < 1M parameters, 32 px"),
    "small": Preset((32, 64, 128, 128), 1,
                    ("DownBlock2D", "DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
                    ("UpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D"), 64,
                    "the CPU-friendly default that ships: ~4.3M parameters, 64 px"),
    # small with one thin level on top: a 128 px base for a 2x stage, at ~1.5x small's CPU time per image
    # (32 channels on top would cost 4x). 16 groups: the top level's 16 channels each normalised alone.
    "small-128": Preset((16, 32, 64, 128, 128), 1,
                        ("DownBlock2D", "DownBlock2D", "DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
                        ("UpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D"), 128,
                        "small with a 16-channel level on top for 128 px: ~4.3M parameters", norm_num_groups=16),
    "base": Preset((128, 128, 256, 256, 512, 512), 2,
                   ("DownBlock2D", "DownBlock2D", "DownBlock2D", "DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
                   ("UpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D"), 128,
                   "the artist's 128 px UNet: ~114M parameters"),
}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise UserError(f"--preset: expected one of {', '.join(PRESETS)}, found {name!r}")
    return PRESETS[name]


def check_resolution(preset_name: str, resolution: int) -> None:
    """The UNet halves the picture once per block but the last: the size must divide evenly."""
    factor = get_preset(preset_name).downsample_factor
    if resolution < factor or resolution % factor:
        below = max(factor, resolution - resolution % factor)
        examples = ", ".join(str(below + factor * i) for i in range(4))
        raise UserError(f"--resolution: the {preset_name} preset takes multiples of {factor} "
                        f"(e.g. {examples}), found {resolution}")


def check_norm_groups(preset_name: str, groups: int) -> None:
    channels = get_preset(preset_name).block_out_channels
    if groups <= 0 or any(c % groups for c in channels):
        raise UserError(f"--norm-groups: the {preset_name} preset's channels {', '.join(map(str, channels))} "
                        f"must all divide by it (e.g. 8), found {groups}")


def make_unet(preset_name: str, resolution: int, *, channels: int = 3, norm_groups: int | None = None):
    """A fresh, randomly initialised UNet2DModel of the preset at `resolution` px with `channels` in and out
    (3 for RGB, 4 for RGB + the animal's mask); `norm_groups` overrides the preset's GroupNorm groups."""
    from diffusers import UNet2DModel

    check_resolution(preset_name, resolution)
    p = get_preset(preset_name)
    groups = norm_groups or p.norm_num_groups
    check_norm_groups(preset_name, groups)
    return UNet2DModel(sample_size=resolution, in_channels=channels, out_channels=channels,
                       layers_per_block=p.layers_per_block, block_out_channels=p.block_out_channels,
                       down_block_types=p.down_block_types, up_block_types=p.up_block_types,
                       norm_num_groups=groups)
