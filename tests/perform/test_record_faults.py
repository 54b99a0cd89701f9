"""Recordings when things go wrong (issue 16, class 7), with the real `postcards perform` in a process of its
own: a full disk (a 200 kB tmpfs in a mount namespace of the test's own) stops the recording cleanly, leaves
a file that decodes without errors, and the show says so; [recording] limits stop a recording and say which; an output
that cannot open leaves the mix on the clock, so the recording keeps its sound."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from record_media import audio_samples, streams

SCENE = '[visual]\nmodel = "{model}"\nscheduler = "ddim"\nsteps = 2\ncrossfade = 0.0\nhold = 0.5\n' \
        '[sound.layers.leaves]\nsource = "rustle"\ndensity = 3.0\n'
CONFIG = """
[audio]
device = "{device}"
{audio}
[osc]
enabled = false
[oscquery]
enabled = false
[display]
size = [320, 180]
headless = true
[recording]
size = [160, 96]
preset = "ultrafast"
{recording}
[logging]
file = ""
[show]
scene = "tiny"
[paths]
scenes = "scenes"
"""


def perform(tmp_path, tiny_model, seconds: float, *, device="none", audio="", recording="", disk=None):
    """`postcards perform --record show.mp4`; `disk`: bytes of a tmpfs the recording is written to (the
    file is copied out before the mount namespace ends)."""
    (tmp_path / "scenes").mkdir(exist_ok=True)
    (tmp_path / "scenes" / "tiny.toml").write_text(SCENE.format(model=tiny_model))
    (tmp_path / "config.toml").write_text(CONFIG.format(device=device, audio=audio, recording=recording))
    movie = tmp_path / "show.mp4"
    command = [sys.executable, "-m", "engine", "--config", str(tmp_path / "config.toml"), "perform", "--headless",
               "--duration", str(seconds), "--record", str(movie)]
    if disk is not None:
        small = tmp_path / "small"
        small.mkdir()
        command[-1] = str(small / "show.mp4")
        script = (f"mount -t tmpfs -o size={disk} tmpfs {small} || exit 77; {shlex.join(command)}; code=$?; "
                  f"cp {small}/show.mp4 {movie}; exit $code")
        command = ["unshare", "-m", "sh", "-c", script]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "SDL_VIDEODRIVER": "dummy"})
    if done.returncode == 77:
        pytest.skip("no mount namespace here (unshare -m and mount need root or user namespaces)")
    return done, movie


def decode_cleanly(movie: Path) -> int:
    """Every video frame, decoded with FFmpeg's errors raised rather than skipped; the count."""
    with av.open(str(movie)) as container:
        container.streams.video[0].codec_context.options = {"err_detect": "explode"}
        return sum(1 for _ in container.decode(video=0))


def test_a_full_disk_stops_the_recording_cleanly_and_the_show_says_so(tmp_path, tiny_model):
    done, movie = perform(tmp_path, tiny_model, 12, disk=200_000)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Recorded the show" not in done.stdout  # before: it said so of a file cut off mid-box
    assert "stopped early" in done.stdout and "No space left on device" in done.stdout
    assert movie.stat().st_size <= 200_000
    assert decode_cleanly(movie) >= 10


def test_recording_limits_stop_a_recording_and_say_which(tmp_path, tiny_model):
    done, movie = perform(tmp_path, tiny_model, 8, recording="max_seconds = 2")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "stopped early: it reached recording.max_seconds (2 s)" in done.stdout
    assert streams(movie)["video"][1] <= 2.5


@pytest.mark.jack
def test_an_output_that_cannot_open_leaves_the_mix_on_the_clock_and_the_recording_its_sound(tmp_path, tiny_model):
    # 44.1 kHz on the 48 kHz dummy server: PortAudio refuses to open the stream (TESTING.md)
    done, movie = perform(tmp_path, tiny_model, 6, device="JACK", audio="samplerate = 44100")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "the mix runs on the clock" in done.stderr
    samples, rate, _ = audio_samples(movie)
    assert rate == 44100 and len(samples) / rate > 2.0  # before: a 0-byte file, then a silent track
    assert float(np.abs(samples).max()) > 1e-3
    assert decode_cleanly(movie) > 30
