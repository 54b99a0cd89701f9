"""The recipe in diffusers' terms: the schedule it exports, the target, the loss terms, and that every engine
sampler draws from a v-prediction, zero-terminal-SNR model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.errors import UserError
from training.objective import Objective

PLAIN = dict(min_snr_gamma=0, mean_colour_weight=0)


def batch(seed: int = 0, n: int = 4):
    g = torch.Generator().manual_seed(seed)
    clean = torch.rand((n, 3, 8, 8), generator=g) * 2 - 1
    noise = torch.randn((n, 3, 8, 8), generator=g)
    return clean, noise, torch.tensor([0, 300, 700, 999][:n])


def test_the_exported_schedule_reaches_pure_noise_with_trailing_timesteps():
    scheduler = Objective().noise_scheduler()
    assert scheduler.config.prediction_type == "v_prediction" and scheduler.config.rescale_betas_zero_snr
    assert scheduler.config.timestep_spacing == "trailing"
    assert scheduler.alphas_cumprod[-1] == 0
    old = Objective(prediction="epsilon", zero_snr=False).noise_scheduler()
    assert old.config.prediction_type == "epsilon" and old.alphas_cumprod[-1] > 0


def test_epsilon_at_zero_snr_is_refused_with_the_way_out():
    with pytest.raises(UserError, match="--zero-snr with --prediction epsilon.*--prediction v or --no-zero-snr"):
        Objective(prediction="epsilon", zero_snr=True)
    with pytest.raises(UserError, match="--prediction: expected one of v, epsilon"):
        Objective(prediction="x0")


def test_v_is_minus_the_clean_image_at_the_last_timestep():
    objective = Objective(**PLAIN)
    scheduler = objective.noise_scheduler()
    clean, noise, timesteps = batch()
    v = objective.target(scheduler, clean, noise, timesteps)
    assert torch.allclose(v[3], -clean[3], atol=1e-6)  # ᾱ = 0: nothing of the picture is left to see
    assert torch.equal(Objective(prediction="epsilon", zero_snr=False, **PLAIN).target(scheduler, clean, noise,
                                                                                          timesteps), noise)


def test_the_mean_colour_term_weighs_an_error_of_the_mean_colour():
    clean, noise, timesteps = batch()
    scheduler = Objective(**PLAIN).noise_scheduler()
    target = Objective(**PLAIN).target(scheduler, clean, noise, timesteps)
    offset = torch.tensor([0.1, -0.2, 0.05])[None, :, None, None]  # the same colour error on every pixel
    plain = Objective(**PLAIN).loss(scheduler, target + offset, clean, noise, timesteps)
    weighted = Objective(min_snr_gamma=0, mean_colour_weight=4).loss(scheduler, target + offset, clean, noise,
                                                                      timesteps)
    assert plain.item() == pytest.approx(offset.pow(2).mean().item(), rel=1e-5)
    assert weighted.item() == pytest.approx(5 * plain.item(), rel=1e-5)
    texture = torch.randn_like(target) * 0.1
    texture -= texture.mean(dim=(2, 3), keepdim=True)  # an error with no mean: the term adds nothing
    assert Objective(min_snr_gamma=0, mean_colour_weight=4).loss(scheduler, target + texture, clean, noise, timesteps) \
        .item() == pytest.approx(Objective(**PLAIN).loss(scheduler, target + texture, clean, noise, timesteps).item())


def test_min_snr_weights_cap_the_easy_timesteps():
    objective = Objective(min_snr_gamma=5, mean_colour_weight=0)
    scheduler = objective.noise_scheduler()
    weights = objective.snr_weights(scheduler, torch.tensor([0, 500, 999]))
    snr = scheduler.alphas_cumprod / (1 - scheduler.alphas_cumprod)
    assert weights[0].item() == pytest.approx(5 / (snr[0].item() + 1), rel=1e-4)  # low noise: capped at γ
    assert weights[2].item() == 0  # pure noise: no clean-image error to weigh
    eps = Objective(prediction="epsilon", zero_snr=False, min_snr_gamma=5, mean_colour_weight=0)
    assert eps.snr_weights(eps.noise_scheduler(), torch.tensor([999])).item() == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["ddpm", "ddim", "dpmsolver++", "dpmsolver++3", "unipc", "euler", "heun"])
def test_every_engine_sampler_draws_from_a_v_prediction_zero_snr_model(name):
    from engine.postcards.sample import sample
    from engine.postcards.schedulers import make_scheduler

    from training.presets import make_unet

    torch.manual_seed(0)
    unet = make_unet("tiny", 16).eval()
    scheduler = make_scheduler(name, dict(Objective().noise_scheduler().config))
    assert scheduler.config.prediction_type == "v_prediction"
    postcards = sample(unet, scheduler, n=2, steps=4, seed=0)
    assert postcards.shape == (2, 16, 16, 3) and postcards.std() > 0
    scheduler.set_timesteps(4)
    assert int(scheduler.timesteps[0]) == 999 or name in ("euler", "heun")  # sigma-based: starts at σ_max
