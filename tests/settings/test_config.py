"""config.toml: the shipped file is valid and documented; every kind of bad input gets a clear error."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from engine.settings.config import DEFAULT_CONFIG, Config, load_config
from engine.settings.schema import SettingsError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load_config(path)
    return caught.value.problems


def test_shipped_config_is_valid_and_equals_the_defaults():
    config = load_config()
    defaults = Config()
    for section in dataclasses.fields(Config):
        if section.name not in ("source", "root"):
            assert getattr(config, section.name) == getattr(defaults, section.name), section.name


def test_every_key_of_the_shipped_config_is_commented():
    text = DEFAULT_CONFIG.read_text()
    for line in text.splitlines():
        if re.match(r"^[a-z_]+\s*=", line):
            assert "#" in line, f"config.toml key without a comment: {line!r}"
    for section in ("display", "audio", "osc", "oscquery", "midi", "sampler", "recording", "paths", "logging"):
        assert f"[{section}]" in text


def test_empty_file_gives_defaults(tmp_path):
    config = load_config(write(tmp_path, ""))
    assert config.osc.host == "127.0.0.1"
    assert config.path("models") == tmp_path / "models"


def test_unknown_key_suggests_the_right_one(tmp_path):
    path = write(tmp_path, "[audio]\nsamplerat = 44100\n")
    (problem,) = problems_of(path)
    assert str(path) in problem and "audio.samplerat" in problem and "did you mean 'samplerate'" in problem


def test_unknown_section_is_rejected(tmp_path):
    (problem,) = problems_of(write(tmp_path, "[dispaly]\nfps = 30\n"))
    assert "dispaly" in problem and "did you mean 'display'" in problem


def test_wrong_type_names_expected_and_found(tmp_path):
    (problem,) = problems_of(write(tmp_path, '[osc]\nport = "9000"\n'))
    assert "osc.port" in problem and "expected an integer" in problem and "'9000'" in problem


def test_out_of_range_names_the_range(tmp_path):
    (problem,) = problems_of(write(tmp_path, "[osc]\nport = 70000\n"))
    assert "osc.port" in problem and "between 1 and 65535" in problem and "70000" in problem


def test_bad_choice_lists_the_choices(tmp_path):
    (problem,) = problems_of(write(tmp_path, '[logging]\nlevel = "LOUD"\n'))
    assert "logging.level" in problem and "DEBUG" in problem and "'LOUD'" in problem


def test_wrong_tuple_length(tmp_path):
    (problem,) = problems_of(write(tmp_path, "[display]\nsize = [1280]\n"))
    assert "display.size" in problem and "2 values" in problem


def test_every_problem_is_reported_at_once_and_nothing_half_loads(tmp_path):
    path = write(tmp_path, '[audio]\nsamplerate = "fast"\nblocksize = 1\n[osc]\nhots = "x"\n')
    problems = problems_of(path)
    assert len(problems) == 3
    assert any("audio.samplerate" in p for p in problems)
    assert any("audio.blocksize" in p for p in problems)
    assert any("osc.hots" in p and "did you mean 'host'" in p for p in problems)


def test_broken_toml_names_file_and_line(tmp_path):
    (problem,) = problems_of(write(tmp_path, "[audio\nsamplerate = 1\n"))
    assert str(tmp_path / "config.toml") in problem and "line 1" in problem


def test_missing_file_is_named(tmp_path):
    (problem,) = problems_of(tmp_path / "nope.toml")
    assert "nope.toml" in problem and "not found" in problem


def test_midi_mapping_needs_exactly_one_of_cc_or_note(tmp_path):
    path = write(tmp_path, '[[midi.map]]\naddress = "/audio/master"\n[[midi.map]]\ncc = 1\nnote = 2\n'
                           'address = "audio"\n')
    problems = problems_of(path)
    assert any("midi.map[0]" in p and "exactly one of cc or note" in p for p in problems)
    assert any("midi.map[1].address" in p and "'audio'" in p for p in problems)


def test_schedule_time_is_checked(tmp_path):
    (problem,) = problems_of(write(tmp_path, '[[show.schedule]]\nat = "25:00"\nscene = "dawn"\n'))
    assert "show.schedule[0].at" in problem and "HH:MM" in problem


def test_loader_only_keys_cannot_be_set(tmp_path):
    (problem,) = problems_of(write(tmp_path, 'root = "/"\n'))
    assert "root" in problem
