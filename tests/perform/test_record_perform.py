"""Recording from `postcards perform`: key r through pygame's event queue, and --record / --record-audio
with the real sound engine (JACK's dummy driver)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile

from engine.settings.config import load_config
from record_media import streams, video_frames

SCENE = """
[visual]
model = "{model}"
scheduler = "ddim"
steps = 2
crossfade = 0.0
[sound.layers.leaves]
source = "rustle"
"""
CONFIG = """
[audio]
device = "JACK"
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
[paths]
scenes = "scenes"
"""


@pytest.fixture
def project(tmp_path, tiny_model) -> Path:
    (tmp_path / "scenes").mkdir()
    (tmp_path / "scenes" / "tiny.toml").write_text(SCENE.format(model=tiny_model))
    (tmp_path / "config.toml").write_text(CONFIG)
    return tmp_path


def play(live, seconds: float) -> None:
    """Frames on the real clock at about 60 fps, as `Live.run` draws them."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        live.frame(time.monotonic())
        time.sleep(1 / 60)


def test_key_r_starts_and_stops_a_recording(project):
    import pygame

    from engine.perform.live import Live

    press_r = pygame.event.Event(pygame.KEYDOWN, key=pygame.K_r)
    live = Live(load_config(project / "config.toml"), "tiny", audio=False, controllers=False)
    live.start()
    try:
        play(live, 0.2)
        pygame.event.post(press_r)
        play(live, 1.0)
        assert live.show.get("/record/active") is True
        pygame.event.post(press_r)
        play(live, 0.3)
        assert live.show.get("/record/active") is False
    finally:
        live.stop()
    (path,) = (project / "recordings").glob("postcards-*.mp4")
    found = streams(path)
    assert found["video"][0] == "h264" and abs(found["video"][1] - 1.0) < 0.2
    assert len(video_frames(path)) >= 20


@pytest.mark.jack
def test_perform_records_the_show_and_the_mix(project):
    out, wav = project / "show.mp4", project / "mix.wav"
    done = subprocess.run([sys.executable, "-m", "engine", "--config", str(project / "config.toml"), "perform",
                           "--scene", "tiny", "--duration", "3", "--record", str(out), "--record-audio", str(wav)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = streams(out)
    assert found["video"][0] == "h264" and found["audio"][0] == "aac"
    assert abs(found["video"][1] - 3.0) < 0.3
    assert abs(found["audio"][1] - found["video"][1]) <= 1 / 30 + 0.05  # the sound from the first frame on
    samples, rate = soundfile.read(wav, dtype="float32")
    assert rate == 48000 and abs(len(samples) / rate - 3.0) < 0.3
    # The mix is in the file: not silence. (The rustle's first gusts may stay under -40 dBFS for 3 s: its peak
    # was 0.0087 in one CI run, so the bar is -60 dBFS.)
    assert abs(samples).max() > 0.001
