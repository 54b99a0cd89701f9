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


def make_unet(preset_name: str, resolution: int):
    """A fresh, randomly initialised UNet2DModel of the preset at `resolution` px."""
    from diffusers import UNet2DModel

    check_resolution(preset_name, resolution)
    p = get_preset(preset_name)
    return UNet2DModel(sample_size=resolution, in_channels=3, out_channels=3,
                       layers_per_block=p.layers_per_block, block_out_channels=p.block_out_channels,
                       down_block_types=p.down_block_types, up_block_types=p.up_block_types)
