"""Samplers by name, built from the trained model's scheduler config."""

from __future__ import annotations

import diffusers
import pytest

from engine.settings import scenes
from engine.errors import UserError
from engine.postcards.schedulers import DEFAULT_STEPS, SCHEDULERS, make_scheduler, unet_calls

TRAINED = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2",
                                  prediction_type="v_prediction").config


def test_the_names_are_the_scene_format_s():
    assert SCHEDULERS is scenes.SCHEDULERS
    assert set(DEFAULT_STEPS) == set(SCHEDULERS)


@pytest.mark.parametrize("name, kind", [
    ("ddpm", diffusers.DDPMScheduler), ("ddim", diffusers.DDIMScheduler),
    ("dpmsolver++", diffusers.DPMSolverMultistepScheduler), ("dpmsolver++3", diffusers.DPMSolverMultistepScheduler),
    ("unipc", diffusers.UniPCMultistepScheduler), ("euler", diffusers.EulerDiscreteScheduler),
    ("heun", diffusers.HeunDiscreteScheduler)])
def test_each_name_keeps_the_trained_noise_schedule(name, kind):
    scheduler = make_scheduler(name, TRAINED)
    assert type(scheduler) is kind
    assert scheduler.config.beta_schedule == "squaredcos_cap_v2"
    assert scheduler.config.prediction_type == "v_prediction"
    scheduler.set_timesteps(DEFAULT_STEPS[name])
    assert int(scheduler.timesteps[0]) == 999  # "trailing": the first step starts from pure noise


def test_dpmsolver_orders():
    two, three = make_scheduler("dpmsolver++", TRAINED), make_scheduler("dpmsolver++3", TRAINED)
    assert (two.config.solver_order, three.config.solver_order) == (2, 3)
    assert two.config.algorithm_type == three.config.algorithm_type == "dpmsolver++"


def test_defaults_are_few_step():
    assert max(DEFAULT_STEPS.values()) <= 25


def test_unet_calls_count_heun_twice():
    assert unet_calls(make_scheduler("dpmsolver++", TRAINED), 20) == 20
    assert unet_calls(make_scheduler("heun", TRAINED), 10) == 19


def test_unknown_scheduler_lists_them():
    with pytest.raises(UserError, match="'lms': expected one of ddpm, ddim, dpmsolver\\+\\+, dpmsolver\\+\\+3, unipc"):
        make_scheduler("lms", TRAINED)
