"""What the model learns: the noise schedule, the prediction target and the loss weights, in diffusers' terms.

The shipped model's colour casts come from ε-prediction on the linear schedule: its last timestep still
holds signal (ᾱ_T = 4e-5), so an error in the predicted noise's mean becomes a colour error up to ~157x
larger in the clean-image guess, decided in the first sampling step (issue 13). The remedies:
- v-prediction (`prediction_type="v_prediction"`): the target v = α·ε − σ·x0 stays well scaled at every
  noise level; on a variance-preserving schedule it is EDM's preconditioning (c_skip, c_out) for σ_data = 1.
- zero-terminal-SNR betas with trailing timesteps (Lin et al. 2023: `rescale_betas_zero_snr=True`,
  `timestep_spacing="trailing"`): training sees pure noise at its last timestep, as sampling starts there.
  Both travel in the exported scheduler config, so every sampler made with `from_config` inherits them.
- min-SNR-γ loss weights (Hang et al. 2023): no noise level dominates the gradient.
- a loss term on the per-image mean colour of the prediction: the pixel loss sees an error of the mean only
  as 1/(H·W) of itself, so a model can score well while ignoring its input's mean colour.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import UserError

PREDICTIONS = {"v": "v_prediction", "epsilon": "epsilon"}  # our option value -> diffusers' prediction_type
TIMESTEPS = 1000
COLOUR_CHANNELS = 3  # the mean-colour term looks at RGB, never at a mask channel


@dataclass(frozen=True)
class Objective:
    prediction: str = "v"
    zero_snr: bool = True
    min_snr_gamma: float = 5.0  # 0: plain mean squared error
    mean_colour_weight: float = 4.0  # 0: no mean-colour term

    def __post_init__(self):
        if self.prediction not in PREDICTIONS:
            raise UserError(f"--prediction: expected one of {', '.join(PREDICTIONS)}, found {self.prediction!r}")
        if self.zero_snr and self.prediction == "epsilon":
            raise UserError("--zero-snr with --prediction epsilon: at zero SNR the last timestep's input is pure "
                            "noise, so predicting the noise teaches nothing; use --prediction v or --no-zero-snr")
        if self.min_snr_gamma < 0 or self.mean_colour_weight < 0:
            raise UserError(f"--min-snr / --mean-colour-weight: expected 0 (off) or more, found "
                            f"{self.min_snr_gamma} / {self.mean_colour_weight}")

    def noise_scheduler(self):
        """The training scheduler; its config is exported with the model."""
        from diffusers import DDPMScheduler

        return DDPMScheduler(num_train_timesteps=TIMESTEPS, prediction_type=PREDICTIONS[self.prediction],
                             rescale_betas_zero_snr=self.zero_snr,
                             timestep_spacing="trailing" if self.zero_snr else "leading")

    def target(self, scheduler, clean, noise, timesteps):
        if self.prediction == "v":
            return scheduler.get_velocity(clean, noise, timesteps)
        return noise

    def loss(self, scheduler, prediction, clean, noise, timesteps):
        """The batch's loss (a scalar tensor) for the model's `prediction` of noisy `clean` at `timesteps`."""
        target = self.target(scheduler, clean, noise, timesteps)
        error = prediction.float() - target
        per_image = error.pow(2).mean(dim=(1, 2, 3))
        if self.mean_colour_weight:
            mean_error = error[:, :COLOUR_CHANNELS].mean(dim=(2, 3))  # (B, 3): the error of each image's mean
            per_image = per_image + self.mean_colour_weight * mean_error.pow(2).mean(dim=1)
        if self.min_snr_gamma:
            per_image = per_image * self.snr_weights(scheduler, timesteps)
        return per_image.mean()

    def snr_weights(self, scheduler, timesteps):
        """min(SNR, γ) / SNR for ε, min(SNR, γ) / (SNR + 1) for v (the same weight on the clean-image error)."""
        from diffusers.training_utils import compute_snr

        snr = compute_snr(scheduler, timesteps)
        clipped = snr.clamp(max=self.min_snr_gamma)
        return clipped / (snr + 1) if self.prediction == "v" else clipped / snr

    def describe(self) -> dict:
        return {"prediction": self.prediction, "zero_snr": self.zero_snr, "min_snr_gamma": self.min_snr_gamma,
                "mean_colour_weight": self.mean_colour_weight}
