"""`postcards render`: a scene rendered offline on a virtual clock to a real MP4 (and WAV), read back with
PyAV and soundfile. The scene is black with a muted layer until two cues at 2 s lift the black and unmute
the layer: the flash and the sound's onset must land on the same frame in the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from engine.cli import main
from engine.settings.config import load_config
from engine.perform.offline import render_show
from engine.cli.render import parse_cue
from record_media import click_time, flash_time, streams, video_frames

FLASH_SCENE = """
description = "test: black and silent until the cues at 2 s"
[visual]
model = "{model}"
scheduler = "ddim"
steps = 2
hold = 100.0
crossfade = 0.0
drift = 0.0
black = 1.0
[sound]
fade = 0.0
[sound.layers.leaves]
source = "rustle"
gain = 1.0
mute = true
"""
CUES = ["2 /visual/black 0", "2 /audio/layer/leaves/mute 0"]


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_model) -> Path:
    """A config whose scenes folder holds the flash scene on the tiny model."""
    root = tmp_path_factory.mktemp("project")
    (root / "scenes").mkdir()
    (root / "scenes" / "flash.toml").write_text(FLASH_SCENE.format(model=tiny_model))
    (root / "config.toml").write_text('[recording]\npreset = "ultrafast"\n[paths]\nscenes = "scenes"\n')
    return root


def test_five_seconds_render_to_h264_and_aac_with_flash_and_click_together(project):
    out, wav = project / "flash.mp4", project / "flash.wav"
    cues = [arg for cue in CUES for arg in ("--cue", cue)]
    assert main(["--config", str(project / "config.toml"), "render", "--scene", "flash", "--duration", "5",
                 "--out", str(out), "--size", "320x180", "--fps", "30", "--seed", "3", "--record-audio", str(wav),
                 "--no-progress", *cues]) == 0
    found = streams(out)
    assert set(found) == {"video", "audio"}
    assert found["video"][0] == "h264" and abs(found["video"][1] - 5.0) <= 1 / 30
    assert found["audio"][0] == "aac" and abs(found["audio"][1] - 5.0) <= 1 / 30
    assert len(video_frames(out)) == 150
    # The picture comes out of black on frame 60; the sound starts within that frame.
    assert flash_time(out, threshold=5.0) == pytest.approx(2.0, abs=1e-6)
    assert 2.0 <= click_time(out, threshold=1e-3) < 2.0 + 1 / 30
    # The WAV holds the mix exactly: silence, then sound from sample 96000 on.
    samples, rate = soundfile.read(wav, dtype="float32")
    assert rate == 48000 and len(samples) == 5 * 48000
    assert int(np.argmax(np.abs(samples).max(axis=1) > 0)) == 2 * 48000


def render(project, out, seed, seconds=1.0):
    config = load_config(project / "config.toml")
    return render_show(config, scene="flash", duration=seconds, out=out, size=(96, 64), fps=18, seed=seed,
                       cues=[parse_cue(c.replace("2 ", "0.5 ", 1)) for c in CUES],
                       audio_path=out.with_suffix(".wav"), progress=False)


def decoded(path):
    import av
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def test_the_same_seed_gives_the_same_frames_and_samples(project):
    first, again, other = (render(project, project / f"{name}.mp4", seed)
                           for name, seed in (("first", 5), ("again", 5), ("other", 6)))
    assert first.recording.frames == again.recording.frames == 18
    np.testing.assert_array_equal(decoded(project / "first.mp4"), decoded(project / "again.mp4"))
    sound = [soundfile.read(project / f"{name}.wav", dtype="float32")[0] for name in ("first", "again", "other")]
    np.testing.assert_array_equal(sound[0], sound[1])
    assert np.abs(sound[0]).max() > 0.01
    assert not np.array_equal(decoded(project / "first.mp4"), decoded(project / "other.mp4"))
    assert not np.array_equal(sound[0], sound[2])
    # 48000 / 18 is not a whole number: the remainder carries, so the sound is exactly a second long.
    assert len(sound[0]) == 48000


@pytest.mark.parametrize("argv, expected", [
    (["--size", "321x180"], "recording size: expected even width and height (H.264 4:2:0), found 321x180"),
    (["--out", "x.avi"], "--out: expected a file name ending in .mp4"),
    (["--record-audio", "x.mp3"], "--record-audio: expected a file name ending in .wav"),
])
def test_bad_file_names_are_clear_errors(project, capsys, argv, expected):
    base = ["--config", str(project / "config.toml"), "render", "--scene", "flash", "--duration", "1"]
    args = base + (argv if "--out" in argv else ["--out", str(project / "x.mp4"), *argv])
    assert main(args) == 2
    assert expected in capsys.readouterr().err


def test_a_scene_that_cannot_play_touches_no_file(project, capsys):
    (project / "scenes" / "nomodel.toml").write_text('[visual]\nmodel = "nowhere"\n')
    out = project / "keep.mp4"
    out.write_bytes(b"an earlier render")
    assert main(["--config", str(project / "config.toml"), "render", "--scene", "nomodel", "--duration", "1",
                 "--out", str(out)]) == 2
    assert "visual.model" in capsys.readouterr().err
    assert out.read_bytes() == b"an earlier render"


@pytest.mark.parametrize("argv, expected", [
    (["--size", "100"], "expected WIDTHxHEIGHT"),
    (["--fps", "0"], "expected frames per second from 1 to 120, found '0'"),
    (["--cue", "soon /visual/next"], "expected 'SECONDS /address"),
    (["--duration", "-1"], "expected seconds above 0"),
])
def test_bad_arguments_name_what_was_expected(project, capsys, argv, expected):
    with pytest.raises(SystemExit):
        main(["render", "--scene", "flash", "--out", "x.mp4", "--duration", "1", *argv])
    assert expected in capsys.readouterr().err
