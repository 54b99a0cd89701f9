"""Samplers by name: diffusers schedulers built with `from_config` from the config the model was trained with.

Swapping the sampler never needs retraining: every scheduler here reads the same noise schedule (betas,
prediction type) from the trained model's `scheduler_config.json`. `timestep_spacing="trailing"` makes the
first of a few steps start at the last training timestep (pure noise), which the DDPM default ("leading")
misses by up to 1000/steps timesteps; Lin et al. 2023 ("Common Diffusion Noise Schedules and Sample Steps
are Flawed") show it matters most at few steps.
"""

from __future__ import annotations

from engine.errors import UserError

DEFAULT_SCHEDULER = "dpmsolver++"
# Steps each sampler gets when none are asked for: all few-step except DDPM itself, which is kept at the
# 1000 steps it was trained with only for comparisons (bench/sample), and never a default elsewhere.
DEFAULT_STEPS = {"ddpm": 25, "ddim": 25, "dpmsolver++": 20, "dpmsolver++3": 20, "unipc": 12,
                 "euler": 25, "heun": 12}

# Our models work in pixel space, where a guess of the clean image outside [-1, 1] is wrong by definition.
# DDPM and DDIM clip that guess (clip_sample in the trained config); the multistep solvers get the same
# through dynamic thresholding. Without it, a model early in training gave saturated noise with DPM-Solver++
# and UniPC where DDIM gave pictures (measured on the camouflage run at steps 382 and 1000).
_PIXEL_SPACE = {"thresholding": True, "sample_max_value": 1.0}

# name -> (diffusers class name, overrides on top of the trained config)
_KINDS = {
    "ddpm": ("DDPMScheduler", {}),
    "ddim": ("DDIMScheduler", {}),
    "dpmsolver++": ("DPMSolverMultistepScheduler",
                    {"algorithm_type": "dpmsolver++", "solver_order": 2, **_PIXEL_SPACE}),
    "dpmsolver++3": ("DPMSolverMultistepScheduler",
                     {"algorithm_type": "dpmsolver++", "solver_order": 3, **_PIXEL_SPACE}),
    "unipc": ("UniPCMultistepScheduler", _PIXEL_SPACE),
    "euler": ("EulerDiscreteScheduler", {}),
    "heun": ("HeunDiscreteScheduler", {}),
}
SCHEDULERS = tuple(_KINDS)  # the names scenes, OSC and the command line accept


def check_scheduler(name: str) -> str:
    if name not in SCHEDULERS:
        raise UserError(f"scheduler {name!r}: expected one of {', '.join(SCHEDULERS)}")
    return name


def make_scheduler(name: str, config: dict):
    """A fresh scheduler `name` for a model trained with scheduler `config` (a dict or a scheduler's config)."""
    import diffusers

    class_name, overrides = _KINDS[check_scheduler(name)]
    return getattr(diffusers, class_name).from_config(dict(config), timestep_spacing="trailing", **overrides)


def unet_calls(scheduler, steps: int) -> int:
    """How many times the UNet runs for `steps` steps (Heun's second-order steps cost two calls each)."""
    scheduler.set_timesteps(steps)
    return len(scheduler.timesteps)
