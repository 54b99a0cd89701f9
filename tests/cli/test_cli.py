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


def test_the_options_of_the_whole_command_stand_before_or_after_the_job(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("[display]\nsizee = [1, 2]\n")
    for args in (("--config", str(broken), "config", "check"), ("config", "check", "--config", str(broken)),
                 ("config", "--config", str(broken), "check", "-v")):
        result = postcards(*args)
        assert result.returncode == 2, args
        assert "display.sizee" in result.stdout + result.stderr, args


def test_a_mistyped_job_gets_the_closest_one():
    result = postcards("perfrom")
    assert result.returncode == 2
    assert "`postcards perform`" in result.stderr


def test_known_keys_are_only_those_a_file_may_hold(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('root = "/"\n[nothing]\n')
    result = postcards("--config", str(config), "config", "check")
    assert result.returncode == 2
    out = result.stdout + result.stderr
    assert "root: unknown key" in out and "known keys: display" in out
    known = out.split("known keys: ")[1].split(")")[0]
    assert "source" not in known and "root" not in known


def test_argument_errors_come_before_torch_is_imported():
    """Checked in the job's own process: a wrong argument never waits for torch (seconds on a busy machine)."""
    for args in (("generate", "--n", "0"), ("generate", "--size", "big"), ("render", "--size", "big"),
                 ("train", "--data", "/no/such/photos", "--out", "/tmp/never")):
        probe = ("import sys, runpy; sys.argv = ['postcards', *sys.argv[1:]]\n"
                 "try:\n    runpy.run_module('engine', run_name='__main__')\nexcept SystemExit as e:\n"
                 "    print('torch' in sys.modules, file=sys.stderr); raise")
        result = subprocess.run([sys.executable, "-c", probe, *args], cwd=PROJECT, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.strip().endswith("False"), (args, result.stderr)
