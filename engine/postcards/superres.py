"""Super-resolution: the model's second stage brings a postcard to `factor` times its size with real detail.

A cascaded-diffusion stage (Ho et al. 2021, "Cascaded Diffusion Models"): a small, attention-free UNet that
sees the noisy detail beside the bicubic upsample of the postcard. It works on the *residual* (hi-res minus
the upsample, divided by `residual_scale` so it has unit spread): the upsample already holds the colours and
the layout, the stage only paints what a bicubic filter cannot, and its UNet never has to learn to copy its
input. Sampling starts SDEdit-like (Meng et al. 2022) from the upsample noised to `start_strength` of the
schedule (an empty residual plus noise at that level), not from pure noise, and runs `steps` steps of the
stage's own scheduler: a few UNet calls at the full size. Being fully convolutional, it trains on small crops
and runs at any size.

A model "has one" when its folder holds `superres/`:
    superres/superres.json                 factor, condition channels, residual scale, strength, steps,
                                           passes (optional, default 1)
    superres/unet/config.json + *.safetensors
    superres/scheduler/scheduler_config.json
A stage with `passes` > 1 runs that many times in a row, each pass `factor` times larger: a 2x stage run
twice brings 64 px to 256 px one octave at a time, each octave's detail painted on the last one's.
A fourth channel (the animal's mask) is not diffused: it is upscaled bilinearly and thresholded at half.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import UserError
from engine.postcards import checks

FOLDER = "superres"
SETTINGS = "superres.json"
UNET_CONFIG = Path("unet/config.json")
SCHEDULER_CONFIG = Path("scheduler/scheduler_config.json")
SCHEDULERS = ("DDIMScheduler", "DPMSolverMultistepScheduler", "UniPCMultistepScheduler")
PREDICTIONS = ("epsilon", "v_prediction", "sample")
BLOCKS = ({"DownBlock2D", "ResnetDownsampleBlock2D"}, {"UpBlock2D", "ResnetUpsampleBlock2D"})
MAX_PARAMS = 100_000_000     # a super-resolution stage is small; anything larger is not one of ours
MAX_CHANNELS = 1024
MAX_FACTOR = 8               # all passes together: a hostile superres.json must not ask for a giant picture
# Postcard i's detail noise comes from seed + i + SEED_OFFSET: not the same numbers as its base noise (seed + i).
SEED_OFFSET = 0x5EED_0000


@dataclass(frozen=True)
class Settings:
    """superres.json: how to run the stage."""
    factor: int              # output side / input side, of one pass
    condition_channels: int  # channels of the upsampled postcard the UNet sees beside the noisy residual
    residual_scale: float    # (hi-res - upsample) / residual_scale is what the stage diffuses
    start_strength: float    # fraction of the schedule the sampling starts at (SDEdit)
    max_strength: float      # the highest noise level training covered; start_strength may not exceed it
    steps: int               # scheduler steps from start_strength to the clean picture, in each pass
    passes: int = 1          # times the stage runs in a row

    @property
    def total_factor(self) -> int:
        """Output side / input side, all passes together."""
        return self.factor ** self.passes

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Stage:
    """A loaded super-resolution stage: UNet (eval mode), scheduler, settings, where it runs."""
    unet: Any
    scheduler: Any
    settings: Settings
    device: Any
    dtype: Any
    path: Path

    @property
    def factor(self) -> int:
        return self.settings.total_factor


def has_stage(model_folder: str | Path) -> bool:
    return (Path(model_folder) / FOLDER / SETTINGS).is_file()


# ---- reading and checking, before anything is allocated -------------------------------------------------

def read_settings(folder: Path) -> Settings:
    path = folder / SETTINGS
    data = checks.read_json(path)
    settings = Settings(factor=checks.get(data, path, "factor", int, 2, 8),
                        condition_channels=checks.get(data, path, "condition_channels", int, 1, 4),
                        residual_scale=checks.get(data, path, "residual_scale", float, 1e-3, 10.0),
                        start_strength=checks.get(data, path, "start_strength", float, 0.01, 1.0),
                        max_strength=checks.get(data, path, "max_strength", float, 0.01, 1.0),
                        steps=checks.get(data, path, "steps", int, 1, 50),
                        passes=checks.get(data, path, "passes", int, 1, 3) if "passes" in data else 1)
    if settings.total_factor > MAX_FACTOR:
        raise UserError(f"{path}: key 'passes': expected factor ** passes at most {MAX_FACTOR}, "
                        f"found {settings.factor} ** {settings.passes}")
    if settings.start_strength > settings.max_strength:
        raise UserError(f"{path}: key 'start_strength': expected at most max_strength "
                        f"({settings.max_strength}: the noise levels training covered), "
                        f"found {settings.start_strength}")
    return settings


def check_unet_config(folder: Path, settings: Settings) -> dict:
    """The UNet's config: a UNet2DModel of known, attention-free blocks, sized for these settings."""
    path = folder / UNET_CONFIG
    config = checks.read_json(path)
    if config.get("_class_name") != "UNet2DModel":
        raise UserError(f"{path}: key '_class_name': expected 'UNet2DModel', found {config.get('_class_name')!r}")
    out_channels = checks.get(config, path, "out_channels", int, 3, 3)
    checks.get(config, path, "in_channels", int, out_channels + settings.condition_channels,
         out_channels + settings.condition_channels)
    checks.get(config, path, "layers_per_block", int, 1, 4)
    channels = checks.block_channels(config, path, MAX_CHANNELS)
    checks.block_types(config, path, channels, BLOCKS, "attention-free")
    checks.norm_groups(config, path, channels)
    if config.get("add_attention", True) and config.get("mid_block_type", "UNetMidBlock2D") is not None:
        raise UserError(f"{path}: key 'add_attention': expected false (a fully convolutional stage runs at any "
                        f"size), found {config.get('add_attention', True)!r}")
    return config


def check_weights(folder: Path, config: dict) -> Path:
    """The UNet's safetensors file, checked from its header against `config` (pickle files are refused)."""
    return checks.weights(folder / "unet", folder, config, MAX_PARAMS)


def check_scheduler_config(folder: Path) -> dict:
    path = folder / SCHEDULER_CONFIG
    config = checks.read_json(path)
    if config.get("_class_name") not in SCHEDULERS:
        raise UserError(f"{path}: key '_class_name': expected one of {', '.join(SCHEDULERS)}, "
                        f"found {config.get('_class_name')!r}")
    if config.get("prediction_type", "epsilon") not in PREDICTIONS:
        raise UserError(f"{path}: key 'prediction_type': expected one of {', '.join(PREDICTIONS)}, "
                        f"found {config.get('prediction_type')!r}")
    checks.get(config, path, "num_train_timesteps", int, 2, 10_000)
    return config


def check_stage(folder: str | Path) -> tuple[Settings, dict]:
    """Every check of a `superres/` folder, reading only JSON and the weights' header: (settings, scheduler config)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: expected a super-resolution folder ({SETTINGS}, unet/, scheduler/), found none")
    settings = read_settings(folder)
    check_weights(folder, check_unet_config(folder, settings))
    return settings, check_scheduler_config(folder)


def load_stage(folder: str | Path, device="cpu", dtype=None) -> Stage:
    """Load a `superres/` folder: every config is checked before anything is allocated; safetensors only."""
    import diffusers
    import torch
    from diffusers import UNet2DModel

    folder = Path(folder)
    settings, scheduler_config = check_stage(folder)
    device = torch.device(device)
    dtype = dtype or torch.float32
    unet = UNet2DModel.from_pretrained(folder / "unet", use_safetensors=True, torch_dtype=dtype)
    unet = unet.to(device).eval().requires_grad_(False)
    scheduler = getattr(diffusers, scheduler_config["_class_name"]).from_config(scheduler_config)
    return Stage(unet=unet, scheduler=scheduler, settings=settings, device=device, dtype=dtype, path=folder)


def save_stage(folder: str | Path, unet, scheduler, settings: Settings, dtype=None) -> None:
    """Write a stage folder (what training exports and tests build); `dtype` e.g. fp16 halves the file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = unet if dtype is None else _copy_as(unet, dtype)
    weights.save_pretrained(folder / "unet", safe_serialization=True)
    scheduler.save_pretrained(folder / "scheduler")
    (folder / SETTINGS).write_text(json.dumps(settings.to_json(), indent=2) + "\n")


def _copy_as(unet, dtype):
    import copy

    import torch

    # nn.Module's own .to: diffusers' override warns about fp32-only modules that this UNet does not have
    return torch.nn.Module.to(copy.deepcopy(unet), dtype)


# ---- sampling -----------------------------------------------------------------------------------------

def upsample(images, factor: int):
    """Bicubic upsample of float (n, C, H, W) images: the condition, the same in training and sampling."""
    import torch.nn.functional as F

    return F.interpolate(images, scale_factor=factor, mode="bicubic", align_corners=False).clamp(-1, 1)


def timesteps_from(scheduler, strength: float, steps: int, device):
    """The last `steps` timesteps of a schedule that would take steps / strength steps from pure noise,
    so sampling starts at `strength` of the way up the noise schedule (what diffusers' img2img does)."""
    total = max(steps, round(steps / strength))
    scheduler.set_timesteps(total, device=device)
    begin = len(scheduler.timesteps) - steps * scheduler.order
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(begin)
    return scheduler.timesteps[begin:]


def refine(stage: Stage, condition, generators, *, strength: float | None = None, steps: int | None = None):
    """Float (n, 3, H, W) upsampled postcards in [-1, 1] -> the same with detail, by `steps` steps from
    `strength` (default: the stage's own). One CPU generator per postcard draws its noise."""
    import torch
    from diffusers.utils.torch_utils import randn_tensor

    s = stage.settings
    strength = s.start_strength if strength is None else strength
    steps = s.steps if steps is None else steps
    if not 0 < strength <= s.max_strength:
        raise ValueError(f"strength: expected a value in (0, {s.max_strength}] (what training covered), "
                         f"found {strength}")
    if steps < 1:
        raise ValueError(f"steps: expected at least 1, found {steps}")
    scheduler = stage.scheduler
    condition = condition.to(stage.device, torch.float32)
    timesteps = timesteps_from(scheduler, strength, steps, stage.device)
    noise = randn_tensor(tuple(condition.shape), generator=generators, device=stage.device, dtype=torch.float32)
    # The start: an empty residual noised to the first timestep (the upsample, noised).
    x = scheduler.add_noise(torch.zeros_like(noise), noise, timesteps[:1].repeat(len(noise)))
    kwargs = {"generator": generators} if "generator" in inspect.signature(scheduler.step).parameters else {}
    with torch.inference_mode():
        for t in timesteps:
            model_input = torch.cat([scheduler.scale_model_input(x, t), condition], dim=1).to(stage.dtype)
            prediction = stage.unet(model_input, t).sample.float()
            x = scheduler.step(prediction, t, x, **kwargs).prev_sample
    return (condition + x * s.residual_scale).clamp(-1, 1)


def upscale(postcards: np.ndarray, stage: Stage, seed: int = 0, *, strength: float | None = None,
            steps: int | None = None) -> np.ndarray:
    """uint8 (n, H, W, 3 or 4) postcards -> uint8 (n, H*f, W*f, same channels). Postcard i draws its noise
    from its own generator (seed + i, offset), so the same seed gives the same pixels however the postcards
    are batched. A fourth channel (the mask) is upscaled bilinearly and thresholded at half."""
    import torch
    import torch.nn.functional as F

    if postcards.ndim != 4 or postcards.shape[-1] not in (3, 4) or postcards.dtype != np.uint8:
        raise ValueError(f"postcards: expected uint8 (n, H, W, 3 or 4), found {postcards.dtype} {postcards.shape}")
    x = torch.from_numpy(np.ascontiguousarray(postcards)).permute(0, 3, 1, 2).float() / 127.5 - 1
    generators = [torch.Generator("cpu").manual_seed(seed + i + SEED_OFFSET) for i in range(len(postcards))]
    rgb = x[:, :3]
    for _ in range(stage.settings.passes):
        rgb = refine(stage, upsample(rgb, stage.settings.factor), generators, strength=strength, steps=steps)
    rgb = rgb.cpu()
    if postcards.shape[-1] == 4:
        mask = F.interpolate(x[:, 3:], scale_factor=stage.factor, mode="bilinear", align_corners=False)
        rgb = torch.cat([rgb, torch.where(mask > 0, 1.0, -1.0)], dim=1)
    return ((rgb + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def enlarge(pictures: np.ndarray, factor: int) -> np.ndarray:
    """uint8 (n, H, W, C) -> bicubic (n, H*f, W*f, C): the guesses on the way to a postcard, at its final size."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(pictures)).permute(0, 3, 1, 2).float() / 127.5 - 1
    return ((upsample(x, factor) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
