"""The model store: trained models in `models/`, found by name or path and loaded the one safe way.

A model is a diffusers DDPMPipeline-shaped folder: `unet/` (config.json + safetensors weights),
`scheduler/scheduler_config.json`, usually `model_index.json` and a model card `README.md`. `generate`,
`evaluate` and the live engine's sampler worker all load through `load_model`, so there is one place that
decides the device, the dtype and that only safetensors are read (a pickle checkpoint can run code when
loaded; we never unpickle weights).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import UserError
from engine.postcards import checks
from engine.paths import UnsafeNameError, safe_child

UNET_CONFIG = Path("unet/config.json")
SCHEDULER_CONFIG = Path("scheduler/scheduler_config.json")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
CHANNELS = (3, 4)  # what a postcard model paints: RGB, or RGB and the mask of its hidden animal
MAX_SIDE = 2048               # pixels a side
MAX_CHANNELS = 4096           # in any block
MAX_PARAMS = 2_000_000_000    # ~8 GB in fp32: anything larger is not a postcard model


@dataclass
class Model:
    """A loaded model: the UNet (eval mode), what its scheduler was trained with, where it runs."""
    unet: Any                      # diffusers.UNet2DModel
    scheduler_config: dict
    device: Any                    # torch.device
    dtype: Any                     # torch.dtype
    path: Path
    superres: Any = None           # superres.Stage: the second stage, when the model has one
    anchor: Any = None             # anchor.ColourAnchor: the photos' mean colours, when the model has them

    @property
    def resolution(self) -> int:
        return int(self.unet.config.sample_size)

    @property
    def side(self) -> int:
        """The finished postcard's size: the resolution, times the super-resolution factor if any."""
        return self.resolution * (self.superres.factor if self.superres is not None else 1)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def channels(self) -> int:
        """3, or 4 when the model paints the mask of its animal beside the picture."""
        return int(self.unet.config.out_channels)


def list_models(models_dir: Path) -> list[str]:
    """Names of the folders in `models_dir` that hold a UNet config (complete or not: load says what lacks).

    A link that leaves the folder is left out: `resolve_model` refuses such a name (engine.paths.safe_child).
    """
    models_dir = Path(models_dir).resolve()
    if not models_dir.is_dir():
        return []
    return sorted(p.name for p in models_dir.iterdir()
                  if (p / UNET_CONFIG).is_file() and p.resolve().parent == models_dir)


def resolve_model(name_or_path: str | Path, models_dir: Path) -> Path:
    """The folder of a model given as a name in `models_dir` (e.g. "default") or as a path to a folder."""
    text = str(name_or_path)
    looks_like_path = isinstance(name_or_path, Path) or "/" in text or "\\" in text or text.startswith(("~", "."))
    if looks_like_path:
        path = Path(text).expanduser()
    else:
        try:
            path = safe_child(Path(models_dir), text, what="model")
        except UnsafeNameError as e:
            raise UserError(f"--model: {e}") from None
    if not path.is_dir():
        known = ", ".join(list_models(models_dir)) or "none yet"
        raise UserError(f"model {text!r}: expected a folder name in {models_dir} or a path to a model folder, "
                        f"found no such folder (known models: {known})")
    missing = missing_files(path)
    if missing:
        raise UserError(f"model {path}: expected a diffusers model folder (unet/ + scheduler/), "
                        f"found it lacks {', '.join(missing)}")
    return path


def missing_files(path: Path) -> list[str]:
    """What a model folder lacks to be loaded; a pickle-only UNet gets an explanation of the refusal."""
    missing = [str(p) for p in (UNET_CONFIG, SCHEDULER_CONFIG) if not (path / p).is_file()]
    unet_dir = path / "unet"
    if not list(unet_dir.glob("*.safetensors")):
        pickles = sorted(p.name for p in unet_dir.glob("*") if p.suffix in PICKLE_SUFFIXES)
        if pickles:
            missing.append(f"unet/*.safetensors (only the pickle checkpoint {', '.join(pickles)} is there: "
                           f"pickle files can run code when loaded, so they are refused; convert them to "
                           f"safetensors where you trust them)")
        else:
            missing.append("unet/diffusion_pytorch_model.safetensors")
    return missing


def model_side(model_folder: str | Path) -> int | None:
    """A model's finished picture size (its super-resolution stage's factor included), read from its
    configs without loading torch (None if unreadable)."""
    from engine.postcards.superres import FOLDER, has_stage, read_settings

    try:
        size = check_unet_config(Path(model_folder))["sample_size"]
        factor = read_settings(Path(model_folder) / FOLDER).total_factor if has_stage(model_folder) else 1
    except (UserError, OSError, ValueError, KeyError, TypeError):
        return None  # loading it says why, in the sampler
    return (max(size) if isinstance(size, list) else size) * factor


def describe_model(path: Path) -> dict:
    """Resolution, parameter count and preset of a model folder, read without loading the weights."""
    from safetensors import safe_open

    config = json.loads((path / UNET_CONFIG).read_text())
    params = 0
    for weights in (path / "unet").glob("*.safetensors"):
        with safe_open(weights, framework="pt") as f:
            for key in f.keys():
                n = 1
                for dim in f.get_slice(key).get_shape():
                    n *= dim
                params += n
    return {"name": path.name, "resolution": config.get("sample_size"), "side": model_side(path), "params": params,
            "preset": _preset(path)}


def _preset(path: Path) -> str | None:
    """The training preset, from the facts training writes next to the model card, where there are any."""
    facts = path / "training.json"
    if facts.is_file():
        preset = json.loads(facts.read_text()).get("preset")
        return str(preset) if preset else None
    return None


def pick_device(name: str = "auto"):
    """`auto`: CUDA, then Apple's MPS, then the CPU; otherwise the named torch device, checked to exist."""
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise UserError(f"device {name!r}: expected auto, cpu, cuda, cuda:N or mps") from None
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if not available.get(device.type, False):
        raise UserError(f"device {name!r}: expected a device this machine has, found no {device.type} here")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise UserError(f"device {name!r}: expected cuda:0..cuda:{torch.cuda.device_count() - 1}")
    return device


def pick_dtype(device):
    """bf16 on GPUs that have it, else fp16 on a GPU; fp32 on the CPU (bf16 there is slower, not faster)."""
    import torch

    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.float32


def check_unet_config(path: Path) -> dict:
    """A model folder's UNet config, checked before anything is allocated: a UNet2DModel that paints what it
    reads (3 channels, or 4 with the animal's mask) at a sane size."""
    file = path / UNET_CONFIG
    config = checks.read_json(file, path)
    if config.get("_class_name") != "UNet2DModel":
        raise UserError(f"{file}: key '_class_name': expected 'UNet2DModel', found {config.get('_class_name')!r}")
    for key in ("in_channels", "out_channels"):
        value = config.get(key)
        if value not in CHANNELS or isinstance(value, bool):
            raise UserError(f"{file}: key {key!r}: expected 3 (RGB) or 4 (RGB + the animal's mask), found {value!r}")
    if config["in_channels"] != config["out_channels"]:
        raise UserError(f"{file}: keys 'in_channels' and 'out_channels': expected the same (a postcard model "
                        f"paints what it reads), found {config['in_channels']} and {config['out_channels']}")
    size = config.get("sample_size")
    sides = size if isinstance(size, list) and len(size) == 2 else [size]
    if not all(isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= MAX_SIDE for s in sides):
        raise UserError(f"{file}: key 'sample_size': expected a whole number of pixels in [1, {MAX_SIDE}] "
                        f"(or two), found {checks.short(size)}")
    channels = checks.block_channels(config, file, MAX_CHANNELS, max_blocks=8)
    checks.block_types(config, file, channels)
    checks.get(config, file, "layers_per_block", int, 1, 8)
    checks.norm_groups(config, file, channels)
    head = config.get("attention_head_dim")
    if head is not None and not checks.whole(head, 1, MAX_CHANNELS):
        raise UserError(f"{file}: key 'attention_head_dim': expected null or a whole number in [1, {MAX_CHANNELS}], "
                        f"found {checks.short(head)}")
    return config


def check_scheduler_config(path: Path) -> dict:
    file = path / SCHEDULER_CONFIG
    config = checks.read_json(file, path)
    checks.get(config, file, "num_train_timesteps", int, 2, 100_000)  # the scheduler allocates tables this long
    return config


def check_model(path: Path) -> dict:
    """Every check of a model folder, reading only JSON and the weights' headers (its super-resolution stage's
    too, and its colours): what `load_model` does before it allocates anything, and `config check` for each
    scene. Returns the scheduler config."""
    from engine.postcards import anchor
    from engine.postcards.superres import FOLDER, check_stage, has_stage

    missing = missing_files(path)
    if missing:
        raise UserError(f"model {path}: expected a diffusers model folder, found it lacks {', '.join(missing)}")
    checks.weights(path / "unet", path, check_unet_config(path), MAX_PARAMS)
    scheduler_config = check_scheduler_config(path)
    if has_stage(path):
        check_stage(path / FOLDER)
    anchor.read(path)
    return scheduler_config


def load_model(path: str | Path, device="auto") -> Model:
    """Load a model folder's UNet (and its super-resolution stage, when it has one) from safetensors only, in
    eval mode, on `device` ("auto" picks one)."""
    from diffusers import UNet2DModel

    from engine.postcards import anchor
    from engine.postcards.superres import FOLDER, has_stage, load_stage

    path = Path(path)
    scheduler_config = check_model(path)
    device = pick_device(device) if isinstance(device, str) else device
    dtype = pick_dtype(device)
    unet = UNet2DModel.from_pretrained(path / "unet", use_safetensors=True, torch_dtype=dtype)
    unet = unet.to(device).eval().requires_grad_(False)
    superres = load_stage(path / FOLDER, device, dtype) if has_stage(path) else None
    return Model(unet=unet, scheduler_config=scheduler_config, device=device, dtype=dtype, path=path,
                 superres=superres, anchor=anchor.read(path))
