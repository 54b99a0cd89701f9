"""The `postcards` command as a new user meets it: help for every job, and `config check`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine.cli import jobs, main

from conftest import PROJECT


def postcards(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=PROJECT, capture_output=True,
                          text=True, timeout=120)


def test_help_lists_every_job():
    result = postcards("--help")
    assert result.returncode == 0
    for job in ("train", "generate", "evaluate", "soundscape", "perform", "render", "midi", "config"):
        assert job in result.stdout


@pytest.mark.parametrize("job", sorted(jobs()))
def test_each_job_explains_itself_with_an_example(job, capsys):
    with pytest.raises(SystemExit) as done:
        main([job, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert f"postcards {job}" in text and "xample" in text


def test_config_check_passes_on_the_shipped_files():
    result = postcards("config", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dawn" in result.stdout and "night" in result.stdout


def test_config_check_reports_a_broken_scene_and_a_missing_start_scene(tmp_path):
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    (scenes / "ok.toml").write_text("[visual]\nsteps = 12\n")
    (scenes / "broken.toml").write_text("[visual]\nsteps = 0\n")
    config = tmp_path / "config.toml"
    config.write_text('[show]\nscene = "dusk"\n')
    result = postcards("--config", str(config), "config", "check")
    assert result.returncode == 2
    assert "broken.toml: visual.steps: expected a value between 1 and 1000, found 0" in result.stdout
    assert "show.scene" in result.stdout and "'dusk'" in result.stdout


def test_config_check_reports_a_broken_config(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[osc]\nprot = 1\n")
    result = postcards("--config", str(config), "config", "check")
    assert result.returncode == 2
    assert "osc.prot" in result.stdout and "did you mean 'port'" in result.stdout


def test_other_jobs_refuse_to_start_on_a_broken_config(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[audio]\nmaster = 9\n")
    result = postcards("--config", str(config), "perform", "--duration", "1")
    assert result.returncode == 2
    assert "audio.master" in result.stderr
