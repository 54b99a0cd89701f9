"""What a training run is asked to do: one frozen object, checked once, read by train().

The command line (training/cli.py) fills it from argparse, a script or a test can make one directly; the
defaults live here and nowhere else (the CLI's help shows these values).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import UserError
from training.objective import Objective
from training.presets import check_norm_groups, check_resolution, get_preset

DEFAULT_EPOCHS = 100  # when neither --epochs nor --max-steps is given


@dataclass(frozen=True)
class Settings:
    data: str
    out: Path
    masks: str | None = None  # a folder of animal masks: train on RGB + mask
    preset: str = "small"
    resolution: int | None = None  # None: the preset's
    norm_groups: int | None = None  # None: the preset's
    objective: Objective = field(default_factory=Objective)
    epochs: int | None = None
    max_steps: int | None = None  # the step budget: the LR schedule decays over exactly these steps
    time_limit: float | None = None  # minutes of this session
    batch: int = 32  # per process
    lr: float = 2e-4
    lr_schedule: str = "cosine"
    warmup_steps: int | None = None  # None: 3 % of the run, at most 250
    weight_decay: float = 0.0
    ema_max_decay: float = 0.9999
    ema_power: float = 0.75
    flip: bool = True
    colour_anchor: int = 300  # sampling anchors each postcard's mean colour to a photo's down to this timestep; 0: off
    seed: int = 0
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    export_every: int = 2000
    preview_every: int = 500
    preview_n: int = 16
    preview_steps: int = 20
    log_every: int = 10
    threads: int | None = None  # None: every core the process may use
    gradient_checkpointing: bool = False
    compile: bool = False
    resume: bool = False
    overwrite: bool = False
    command: str = ""  # how the run was started, for the model card

    POSITIVE = ("epochs", "max_steps", "time_limit", "batch", "lr", "checkpoint_every", "keep_checkpoints",
                "export_every", "preview_every", "preview_n", "preview_steps", "log_every", "threads")

    def __post_init__(self):
        object.__setattr__(self, "out", Path(self.out))
        for name in self.POSITIVE:
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise UserError(f"{flag(name)}: expected a number above 0, found {value}")
        if self.colour_anchor < 0:
            raise UserError(f"--colour-anchor: expected a timestep (0 turns the anchor off), found {self.colour_anchor}")
        if self.resume and self.overwrite:
            raise UserError("--resume and --overwrite: expected one of them, found both")
        check_resolution(self.preset, self.size)
        if self.norm_groups is not None:
            check_norm_groups(self.preset, self.norm_groups)

    @property
    def size(self) -> int:
        """The training resolution in pixels."""
        return self.resolution or get_preset(self.preset).resolution

    def total_steps(self, steps_per_epoch: int) -> int:
        """The run's length in optimiser steps: --max-steps alone, --epochs alone, or the smaller of both."""
        if self.max_steps and self.epochs is None:
            return self.max_steps
        steps = (self.epochs or DEFAULT_EPOCHS) * steps_per_epoch
        return min(steps, self.max_steps) if self.max_steps else steps

    @classmethod
    def from_args(cls, args) -> "Settings":
        """From the argparse namespace of training/cli.py (option names match field names)."""
        import shlex
        import sys

        names = {f.name for f in dataclasses.fields(cls)} - {"objective", "flip", "command"}
        values = {name: getattr(args, name) for name in names if hasattr(args, name)}
        objective = Objective(prediction=args.prediction, zero_snr=args.zero_snr, min_snr_gamma=args.min_snr,
                              mean_colour_weight=args.mean_colour_weight)
        command = getattr(args, "command", None) or shlex.join(sys.argv)
        return cls(**values, objective=objective, flip=not args.no_flip, command=command)


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def default(name: str):
    """A field's default value (for the CLI's help)."""
    found = {f.name: f for f in dataclasses.fields(Settings)}[name]
    return found.default_factory() if found.default_factory is not dataclasses.MISSING else found.default
