"""A model folder checked before anything is allocated: its JSON configs' types and sizes, and its safetensors
weights read from their header alone (shapes, dtypes, offsets against the file's size, the parameter count).

A model comes from outside (a download, a USB stick): a config that asks for 100,000 channels, a header that
lies about its shapes or a weights file that is a link to /dev/zero must end in a clear error that names the
file and key, not in a 16 GB allocation or a traceback from deep in torch. The base model (store.py) and the
super-resolution stage (superres.py) are both checked here.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

from engine.errors import UserError

MAX_JSON = 1 << 20          # bytes in a config file (ours are ~1 KB)
MAX_HEADER = 16 << 20       # bytes in a safetensors header (ours are ~50 KB)
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
               "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
UNET_BLOCKS = ({"DownBlock2D", "AttnDownBlock2D", "ResnetDownsampleBlock2D", "AttnDownsampleBlock2D"},
               {"UpBlock2D", "AttnUpBlock2D", "ResnetUpsampleBlock2D", "AttnUpsampleBlock2D"})


def inside(path: Path, folder: Path, what: str) -> Path:
    """`path` with its links resolved, refused unless it is a regular file within `folder`."""
    real = path.resolve()
    if not real.is_relative_to(Path(folder).resolve()):
        raise UserError(f"{path}: expected {what} inside {folder}, found a link to {real}")
    if not real.exists():
        raise UserError(f"{path}: expected {what}, found no such file")
    if not real.is_file():
        raise UserError(f"{path}: expected {what} as a regular file, found something else (a device, a FIFO?)")
    return real


def read_json(path: Path, folder: Path | None = None) -> dict:
    """A JSON object from a regular file of at most MAX_JSON bytes (inside `folder` when given)."""
    try:
        real = inside(path, folder or path.parent, "a JSON file")
        if real.stat().st_size > MAX_JSON:
            raise UserError(f"{path}: expected a JSON config of at most {MAX_JSON:,} bytes, found "
                            f"{real.stat().st_size:,}")
        data = json.loads(real.read_bytes())
    except OSError as e:
        raise UserError(f"{path}: expected a readable JSON file, found {e.strerror or e}") from None
    except (ValueError, RecursionError) as e:
        raise UserError(f"{path}: expected JSON, found a syntax error ({str(e)[:200]})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def get(data: dict, path: Path, key: str, kind: type, low=None, high=None):
    """data[key], checked to be a `kind` (ints are fine for floats) within [low, high]."""
    if key not in data:
        raise UserError(f"{path}: key {key!r}: expected {kind.__name__}, found no such key")
    value = data[key]
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok or (low is not None and value < low) or (high is not None and value > high):
        span = f" in [{low}, {high}]" if low is not None and high is not None else ""
        raise UserError(f"{path}: key {key!r}: expected {kind.__name__}{span}, found {short(data[key])}")
    if kind is float and not math.isfinite(value):
        raise UserError(f"{path}: key {key!r}: expected a finite number, found {data[key]!r}")
    return value


def short(value) -> str:
    """repr() cut to 80 characters: a hostile config's value may be megabytes long."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def whole(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def block_channels(config: dict, path: Path, max_channels: int, max_blocks: int = 6) -> list[int]:
    channels = config.get("block_out_channels")
    if (not isinstance(channels, list) or not 1 <= len(channels) <= max_blocks
            or not all(whole(c, 1, max_channels) for c in channels)):
        raise UserError(f"{path}: key 'block_out_channels': expected 1 to {max_blocks} whole numbers in "
                        f"[1, {max_channels}], found {short(channels)}")
    return channels


def block_types(config: dict, path: Path, channels: list[int], allowed=UNET_BLOCKS, what: str = "known") -> None:
    for key, names in zip(("down_block_types", "up_block_types"), allowed):
        blocks = config.get(key)
        if not isinstance(blocks, list) or len(blocks) != len(channels) or not set(map(str, blocks)) <= names:
            raise UserError(f"{path}: key {key!r}: expected {len(channels)} {what} blocks "
                            f"({', '.join(sorted(names))}), found {short(blocks)}")


def norm_groups(config: dict, path: Path, channels: list[int]) -> int:
    groups = get(config, path, "norm_num_groups", int, 1, max(channels))
    if any(c % groups for c in channels):
        raise UserError(f"{path}: key 'norm_num_groups': expected a divisor of every block_out_channels "
                        f"{channels}, found {groups}")
    return groups


def weights(unet_dir: Path, folder: Path, config: dict, max_params: int) -> Path:
    """The UNet's safetensors file, read from its header only: a regular file inside `folder`, every tensor's
    dtype, shape and offsets consistent with the file's size, at most `max_params` parameters, and the first
    and last convolutions shaped as `config` says. Pickle files are refused."""
    files = sorted(unet_dir.glob("*.safetensors"))
    if not files:
        pickles = sorted(p.name for p in unet_dir.glob("*") if p.suffix in PICKLE_SUFFIXES)
        found = f"only {', '.join(pickles)} (pickle files can run code when loaded: refused)" if pickles else "none"
        raise UserError(f"{unet_dir}: expected diffusion_pytorch_model.safetensors, found {found}")
    file = files[0]
    header, size = _header(inside(file, folder, "the weights"), file)
    params = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        shape = entry.get("shape") if isinstance(entry, dict) else None
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if (not isinstance(shape, list) or not all(whole(d, 0, 1 << 40) for d in shape)
                or entry.get("dtype") not in DTYPE_BYTES
                or not isinstance(offsets, list) or len(offsets) != 2 or not all(whole(o, 0, 1 << 50) for o in offsets)):
            raise UserError(f"{file}: tensor {name[:80]!r}: expected a dtype, a shape and two offsets, found "
                            f"{short(entry)}")
        count = math.prod(shape)
        if offsets[1] - offsets[0] != count * DTYPE_BYTES[entry["dtype"]] or offsets[1] > size:
            raise UserError(f"{file}: tensor {name[:80]!r}: its shape {shape} ({entry['dtype']}) does not fit its "
                            f"offsets {offsets} in {size:,} bytes of data: a damaged or lying header")
        params += count
    if params > max_params:
        raise UserError(f"{file}: expected at most {max_params:,} parameters, found {params:,}")
    first = config["block_out_channels"][0]
    for key, shape in (("conv_in.weight", [first, config["in_channels"], 3, 3]),
                       ("conv_out.weight", [config["out_channels"], first, 3, 3])):
        found = header.get(key, {}).get("shape") if isinstance(header.get(key), dict) else None
        if found != shape:
            raise UserError(f"{file}: tensor {key!r}: expected the shape {shape} that {unet_dir / 'config.json'} "
                            f"describes, found {found}")
    return file


def _header(real: Path, file: Path) -> tuple[dict, int]:
    """The JSON header of a safetensors file, and the bytes of data after it."""
    size = real.stat().st_size
    try:
        with open(real, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            if not 2 <= length <= min(MAX_HEADER, size - 8):
                raise UserError(f"{file}: expected a safetensors header of at most {MAX_HEADER:,} bytes within "
                                f"the file's {size:,}, found one of {length:,}")
            header = json.loads(f.read(length))
    except (OSError, struct.error, ValueError, RecursionError) as e:
        raise UserError(f"{file}: expected a safetensors file, found it unreadable ({str(e)[:200]})") from None
    if not isinstance(header, dict):
        raise UserError(f"{file}: expected a safetensors header (a JSON object), found {type(header).__name__}")
    return header, size - 8 - length
