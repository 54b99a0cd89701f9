"""Train the super-resolution stage: v-prediction on the residual over the bicubic upsample, on photo crops.

One CPU generator decides every crop, degradation, timestep and noise draw; the checkpoint (safetensors
weights, EMA, optimiser moments and that generator's state, written then renamed) holds everything else, so
a resumed run goes on where it stopped. The budget is --steps or --minutes of training (summed over resumed
sessions), whichever runs out first: the learning rate decays to zero over it, on a shared CPU where the
speed is not known ahead too, and the run ends with a checkpoint and an export.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from pathlib import Path

from engine.errors import UserError
from engine.postcards.superres import Settings, save_stage, upsample
from training.superres import photos

log = logging.getLogger(__name__)

RUN = "run.json"
LOG = "log.jsonl"
STAGE = "superres"
CHECKPOINTS = "checkpoints"
TIMESTEPS = 1000
# Arguments that shape the model or the data: a resumed run keeps the first session's values.
FIXED = ("data", "scales", "factor", "passes", "crop", "batch", "channels", "layers", "groups", "max_strength",
         "lr", "warmup", "seed", "holdout", "ema", "sampler")


def make_unet(args):
    from diffusers import UNet2DModel

    channels = tuple(args.channels)
    return UNet2DModel(sample_size=args.crop, in_channels=6, out_channels=3, block_out_channels=channels,
                       layers_per_block=args.layers, down_block_types=("DownBlock2D",) * len(channels),
                       up_block_types=("UpBlock2D",) * len(channels), add_attention=False,
                       norm_num_groups=args.groups)


def make_scheduler(sampler: str):
    """The stage's noise schedule (cosine, v-prediction, no clipping: a residual is not bounded by 1)."""
    import diffusers

    common = dict(num_train_timesteps=TIMESTEPS, beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction",
                  timestep_spacing="trailing")
    if sampler == "ddim":
        return diffusers.DDIMScheduler(clip_sample=False, set_alpha_to_one=True, **common)
    return diffusers.DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", solver_order=2, **common)


def lr_at(step: int, progress: float, args) -> float:
    """Linear warm-up over steps, then cosine decay to zero as `progress` (0..1 of the budget) runs out."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    return args.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def ema_decay(step: int, ceiling: float) -> float:
    return min(ceiling, 1 - (1 + step) ** -0.75)


# ---- checkpoints: safetensors + meta.json, atomic ---------------------------------------------------------

def save_checkpoint(out: Path, step: int, unet, ema, optimizer, generator, meta: dict) -> None:
    from safetensors.torch import save_file

    tensors = {f"unet.{k}": v for k, v in unet.state_dict().items()}
    tensors.update({f"ema.{k}": v for k, v in ema.state_dict().items()})
    for i, state in optimizer.state_dict()["state"].items():
        tensors.update({f"optim.{i}.{k}": v for k, v in state.items()})
    tensors["rng"] = generator.get_state()
    root = out / CHECKPOINTS
    tmp, final = root / f".tmp-{step:08d}", root / f"checkpoint-{step:08d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, tmp / "state.safetensors")
    (tmp / "meta.json").write_text(json.dumps({**meta, "step": step}, indent=2))
    shutil.rmtree(final, ignore_errors=True)
    os.rename(tmp, final)
    for old in sorted(root.glob("checkpoint-*"))[:-2]:
        shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(out: Path, unet, ema, optimizer, generator) -> dict:
    from safetensors.torch import load_file

    found = sorted(p for p in (out / CHECKPOINTS).glob("checkpoint-*") if (p / "meta.json").is_file())
    if not found:
        raise UserError(f"--resume: expected a checkpoint in {out / CHECKPOINTS}, found none")
    tensors = load_file(found[-1] / "state.safetensors")
    unet.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("unet.")})
    ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    state = optimizer.state_dict()
    moments: dict = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, i, name = key.split(".", 2)
            moments.setdefault(int(i), {})[name] = value
    state["state"] = moments
    optimizer.load_state_dict(state)
    generator.set_state(tensors["rng"])
    return json.loads((found[-1] / "meta.json").read_text())


# ---- the run --------------------------------------------------------------------------------------------

def residual_spread(images, args, generator, device) -> float:
    """The spread of (crop - upsample of its low-res twin) over 256 crops: the residual's scale."""
    hi = photos.crops(images, 256, args.crop, generator, device)
    cond = upsample(photos.low_res(hi, args.factor, generator), args.factor)
    return round(float((hi - cond).std()), 4)


def preview(stage_folder: Path, paths: list[Path], factor: int, side: int, device) -> "object":
    """Held-out photos as postcards of side/factor px: bicubic | stage | the photo itself, one row each."""
    import numpy as np
    import torch
    from PIL import Image

    from engine.postcards.superres import load_stage, upscale

    truth = photos.squares(paths, side)
    small = np.stack([np.asarray(Image.fromarray(t).resize((side // factor,) * 2, Image.Resampling.LANCZOS))
                      for t in truth])
    stage = load_stage(stage_folder, device)
    ours = upscale(small, stage, seed=0)
    x = torch.from_numpy(small).permute(0, 3, 1, 2).float() / 127.5 - 1
    bicubic = ((upsample(x, factor) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    rows = [np.concatenate([b, o, t], axis=1) for b, o, t in zip(bicubic, ours, truth)]
    return Image.fromarray(np.concatenate(rows, axis=0))


def export(out: Path, ema, settings: Settings, sampler: str, holdout: list[Path], postcard: int, device) -> None:
    """Write <out>/superres (fp16 safetensors) through a temp folder, and preview.png of held-out photos."""
    import torch

    tmp = out / f".tmp-{STAGE}"
    shutil.rmtree(tmp, ignore_errors=True)
    save_stage(tmp, ema, make_scheduler(sampler), settings, dtype=torch.float16)
    final, old = out / STAGE, out / f".old-{STAGE}"
    if final.exists():
        os.rename(final, old)
    os.rename(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
    if holdout:
        factor = settings.total_factor
        preview(final, holdout[:4], factor, postcard * factor, device).save(out / "preview.png")


def train(args) -> int:
    import copy

    import torch
    import torch.nn.functional as F

    out = Path(args.out)
    if args.resume:
        if not (out / RUN).is_file():
            raise UserError(f"--resume: expected {out / RUN} from an earlier run, found none")
        first = json.loads((out / RUN).read_text())
        for key in FIXED:  # a key newer than the run keeps its default
            setattr(args, key, first.get(key, getattr(args, key)))
    elif out.exists() and any(out.iterdir()):
        if not args.overwrite:
            raise UserError(f"--out {out}: the folder exists and is not empty; pass --resume or --overwrite")
        shutil.rmtree(out)
    if args.crop % (2 ** (len(args.channels) - 1) * args.factor):
        raise UserError(f"--crop {args.crop}: expected a multiple of {2 ** (len(args.channels) - 1) * args.factor} "
                        f"(the factor times the UNet's downsampling)")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() and args.device == "auto" else
                          ("cpu" if args.device == "auto" else args.device))
    train_paths, held = photos.split(photos.photo_paths(Path(args.data)), args.holdout)
    images = photos.load(train_paths, args.crop, tuple(args.scales), threads=args.threads)
    out.mkdir(parents=True, exist_ok=True)
    if not args.resume:
        (out / RUN).write_text(json.dumps({k: v for k, v in vars(args).items() if k != "func"}, indent=2))
    log.info("%d training photos (%d views), %d held out, on %s", len(train_paths), len(images), len(held), device)

    torch.manual_seed(args.seed)
    unet = make_unet(args).to(device)
    ema = copy.deepcopy(unet).requires_grad_(False)
    fused = device.type == "cuda"
    optimizer = torch.optim.AdamW(unet.parameters(), lr=args.lr, betas=(0.9, 0.99), weight_decay=0.0, fused=fused)
    generator = torch.Generator().manual_seed(args.seed)
    scheduler = make_scheduler("ddim")
    alphas = scheduler.alphas_cumprod.to(device)
    step, meta = 0, {}
    if args.resume:
        meta = load_checkpoint(out, unet, ema, optimizer, generator)
        step = meta["step"]
    scale = meta.get("residual_scale") or residual_spread(images, args, generator, device)
    settings = Settings(factor=args.factor, passes=args.passes, condition_channels=3, residual_scale=scale,
                        start_strength=args.start_strength, max_strength=args.max_strength, steps=args.sample_steps)
    top = round(args.max_strength * TIMESTEPS)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    budget = args.minutes * 60 if args.minutes else math.inf
    seconds = meta.get("seconds", 0.0)  # training time of the earlier sessions

    def progress() -> float:
        return max(step / args.steps, seconds / budget)

    log_file = (out / LOG).open("a")
    seen, tick, step_seconds = 0, time.perf_counter(), 0.0

    def save(step: int) -> None:
        save_checkpoint(out, step, unet, ema, optimizer, generator, {"residual_scale": scale, "seconds": seconds})
        export(out, ema, settings, args.sampler, held, args.postcard, device)

    unet.train()
    while True:
        t0 = time.perf_counter()
        hi = photos.crops(images, args.batch, args.crop, generator, device)
        cond = upsample(photos.low_res(hi, args.factor, generator), args.factor)
        residual = (hi - cond) / scale
        t = torch.randint(0, top, (args.batch,), generator=generator).to(device)
        # The noise is drawn where it is used (a CPU draw of a GPU batch's noise was a bottleneck), from a
        # generator seeded by the run's own, so a resumed run draws the same.
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        noise = torch.randn(residual.shape, generator=torch.Generator(device).manual_seed(seed), device=device)
        a = alphas[t][:, None, None, None]
        noisy = a.sqrt() * residual + (1 - a).sqrt() * noise
        target = a.sqrt() * noise - (1 - a).sqrt() * residual  # v
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, progress(), args)
        with autocast:
            prediction = unet(torch.cat([noisy, cond], dim=1), t).sample
        loss = F.mse_loss(prediction.float(), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        optimizer.step()
        with torch.no_grad():
            decay = ema_decay(step, args.ema)
            torch._foreach_lerp_(list(ema.parameters()), list(unet.parameters()), 1 - decay)
        step += 1
        seen += args.batch
        step_seconds = time.perf_counter() - t0
        seconds += step_seconds
        if step % args.log_every == 0:
            now = time.perf_counter()
            record = {"step": step, "loss": round(loss.item(), 5), "lr": optimizer.param_groups[0]["lr"],
                      "img_per_s": round(seen / (now - tick), 2), "train_minutes": round(seconds / 60, 2)}
            log_file.write(json.dumps(record) + "\n")
            log_file.flush()
            log.info("%s", record)
            seen, tick = 0, now
        if progress() >= 1:
            break
        if step % args.checkpoint_every == 0:
            save(step)
    save(step)
    log_file.close()
    log.info("stage written to %s after %d steps", out / STAGE, step)
    return 0
