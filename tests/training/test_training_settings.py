"""Settings: what a run is asked to do, checked once; the step budget decides the LR schedule's length."""

from __future__ import annotations

import argparse

import pytest

from engine.errors import UserError
from training import cli
from training.settings import Settings


def from_cli(*argv: str) -> Settings:
    parser = argparse.ArgumentParser()
    cli.configure(parser)
    return Settings.from_args(parser.parse_args(["--data", "d", "--out", "o", *argv]))


def test_the_command_line_and_the_dataclass_agree_on_the_defaults():
    assert from_cli(*()).__dict__ | {"command": ""} == Settings(data="d", out="o").__dict__


def test_the_step_budget_alone_sets_the_run_length():
    assert from_cli("--max-steps", "5000").total_steps(steps_per_epoch=7) == 5000  # not capped by 100 epochs
    assert from_cli("--epochs", "10").total_steps(7) == 70
    assert from_cli("--epochs", "10", "--max-steps", "50").total_steps(7) == 50
    assert from_cli().total_steps(7) == 700


def test_the_recipe_options_reach_the_objective():
    s = from_cli("--prediction", "epsilon", "--no-zero-snr", "--min-snr", "0", "--mean-colour-weight", "2",
                 "--norm-groups", "8", "--masks", "m")
    assert (s.objective.prediction, s.objective.zero_snr, s.objective.min_snr_gamma) == ("epsilon", False, 0)
    assert s.objective.mean_colour_weight == 2 and s.norm_groups == 8 and s.masks == "m"


@pytest.mark.parametrize("argv, message", [
    (("--max-steps", "0"), "--max-steps: expected a number above 0, found 0"),
    (("--resume", "--overwrite"), "expected one of them, found both"),
    (("--preset", "tiny", "--resolution", "33"), "--resolution: the tiny preset takes multiples of 2"),
    (("--norm-groups", "7"), "--norm-groups: the small preset's channels"),
    (("--prediction", "epsilon"), "--zero-snr with --prediction epsilon"),
])
def test_bad_settings_are_refused_before_anything_loads(argv, message):
    with pytest.raises(UserError, match=message):
        from_cli(*argv)
