"""`postcards soundscape`: WAV files from the synth or Stable Audio, and clear errors for bad input."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import soundfile

from engine.settings.config import load_config
from engine.errors import UserError
from engine.cli import soundscape


def run(*argv: str) -> int:
    """The job as engine/cli/__init__.py wires it: its own parser, the project's settings."""
    parser = argparse.ArgumentParser(prog="postcards soundscape")
    soundscape.configure(parser)
    args = parser.parse_args(list(argv))
    args.settings = load_config()
    return soundscape.run(args)


def test_synth_writes_n_files_at_48k_each_its_own_seed(tmp_path, capsys):
    assert run("--n", "2", "--seconds", "2", "--seed", "5", "--out", str(tmp_path)) == 0
    files = sorted(tmp_path.glob("*.wav"))
    assert [f.name for f in files] == ["jungle-synth-0005.wav", "jungle-synth-0006.wav"]
    a, rate = soundfile.read(files[0], dtype="float32")
    b, _ = soundfile.read(files[1], dtype="float32")
    assert rate == 48000 and a.shape == (2 * 48000, 2) and np.abs(a).max() > 0.01
    assert not np.allclose(a, b)
    assert "embedded synth" in soundfile.SoundFile(files[0]).comment
    assert "made by the embedded synth" in capsys.readouterr().out


def test_scene_layers_loop_and_rate(tmp_path):
    run("--n", "1", "--seconds", "5", "--scene", "night", "--loop", "--rate", "22050", "--out", str(tmp_path))
    (path,) = tmp_path.glob("*-loop.wav")
    audio, rate = soundfile.read(path, dtype="float32")
    assert rate == 22050 and 2 * rate < len(audio) < 4 * rate
    assert np.abs(audio[0] - audio[-1]).max() < 0.1


@pytest.mark.parametrize("argv, message", [
    (["--seconds", "0"], "--seconds: expected more than 0, found 0"),
    (["--seconds", "-3"], "--seconds: expected more than 0"),
    (["--n", "0"], "--n: expected at least 1"),
    (["--loop", "--seconds", "2"], "--crossfade: expected more than 0 and at most a third of --seconds"),
    (["--loop", "--crossfade", "0"], "--crossfade: expected more than 0"),
    (["--rate", "fast"], "--rate: expected a sample rate"),
    (["--rate", "model"], "'model' needs --backend stable-audio"),
    (["--scene", "../config"], "--scene: scene '../config'"),
])
def test_bad_values_are_clear_errors(tmp_path, argv, message):
    with pytest.raises(UserError, match=message.replace("(", "\\(")):
        run(*argv, "--out", str(tmp_path))
    assert not list(tmp_path.glob("*.wav"))


def test_unknown_backend_is_refused_by_name(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        run("--backend", "mp3-folder", "--out", str(tmp_path))
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--backend: invalid choice: 'mp3-folder'" in err and "synth" in err and "stable-audio" in err


def test_unwritable_output_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(UserError, match="--out .*a-file/wavs: expected a folder"):
        run("--seconds", "1", "--out", str(blocker / "wavs"))


def test_stable_audio_without_weights_says_how_to_get_them(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(UserError, match="gated"):
        run("--backend", "stable-audio", "--out", str(tmp_path / "out"))


def test_stable_audio_backend_writes_engine_rate_or_model_rate(tmp_path, capsys):
    from conftest import save_tiny_stable_audio

    model = save_tiny_stable_audio(tmp_path / "tiny")
    common = ["--backend", "stable-audio", "--model", str(model), "--n", "1", "--seconds", "0.3",
              "--steps", "2", "--device", "cpu"]
    run(*common, "--out", str(tmp_path / "engine-rate"))
    (path,) = (tmp_path / "engine-rate").glob("jungle-stable-audio-0000.wav")
    info = soundfile.info(path)
    assert info.samplerate == 48000 and info.frames == round(0.3 * 48000)
    assert "Stable Audio (StableAudioPipeline" in capsys.readouterr().out
    run(*common, "--rate", "model", "--out", str(tmp_path / "model-rate"))
    info = soundfile.info(next((tmp_path / "model-rate").glob("*.wav")))
    assert info.samplerate == 44100 and info.frames == int(0.3 * 44100)


def test_a_missing_scene_names_its_file(tmp_path):
    from engine.settings.schema import SettingsError

    with pytest.raises(SettingsError, match="no-such-scene.toml: file not found"):
        run("--scene", "no-such-scene", "--out", str(tmp_path))
