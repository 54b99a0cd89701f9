"""Live recording: /record/start and /record/stop through the Show, frames from pygame surfaces, sound
from an audio tap; files read back with PyAV."""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import pygame
import pytest

from engine.settings.config import RecordingSettings, load_config
from engine.show.controls import Command
from engine.record.live import LiveRecording
from engine.show.state import Show
from conftest import SCENES
from record_media import click_time, flash_time, streams, video_frames

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
RATE, BLOCK = 48000, 512


@pytest.fixture
def config(tmp_path):
    base = load_config()
    return replace(base, recording=RecordingSettings(size=(320, 180), fps=30, preset="ultrafast"),
                   paths=replace(base.paths, recordings=str(tmp_path / "recordings")))


class Clock:
    """The show's clock, stepped by the test like a 60 fps perform loop would."""
    frames = 0

    @property
    def now(self) -> float:
        return 100.0 + self.frames / 60

    def __call__(self) -> float:
        return self.now


def perform(show, live, clock, seconds, flash_at=None):
    """A 60 fps show on a 640x360 surface; the audio tap delivers 512-frame blocks as time passes."""
    surface = pygame.Surface((640, 360))
    played = 0
    for _ in range(round(seconds * 60)):
        show.update(clock.now)
        flash = flash_at is not None and flash_at <= clock.now < flash_at + 1 / 30  # one recorded frame
        surface.fill((255, 255, 255) if flash else (0, 0, 0))
        live.frame(surface, clock.now)
        while played < (clock.now + 1 / 60 - 100.0) * RATE:
            block = np.zeros((BLOCK, 2), np.float32)
            start = 100.0 + played / RATE
            if flash_at is not None and start <= flash_at < start + BLOCK / RATE:
                block[round((flash_at - start) * RATE):][:48] = 0.8
            live.audio(block, played)
            played += BLOCK
        clock.frames += 1


def test_start_and_stop_from_commands_make_a_synced_file(config, tmp_path):
    clock = Clock()
    show = Show(config, SCENES, "dawn")
    live = LiveRecording(config, RATE, clock, show.report)
    live.follow(show)
    perform(show, live, clock, 0.5)  # not recording yet
    show.submit(Command("/record/start", (), "test"))
    perform(show, live, clock, 2.0, flash_at=101.5)
    assert show.get("/record/active") is True
    show.submit(Command("/record/stop", (), "test"))
    perform(show, live, clock, 0.5)
    live.close()
    assert show.get("/record/active") is False
    (path,) = (tmp_path / "recordings").glob("postcards-*.mp4")
    found = streams(path)
    assert found["video"][0] == "h264" and abs(found["video"][1] - 2.0) <= 1 / 30
    assert found["audio"][0] == "aac" and abs(found["audio"][1] - 2.0) <= 1 / 30
    assert len(video_frames(path)) == 60  # a 60 fps show recorded at 30 fps
    assert abs(flash_time(path) - click_time(path)) <= 1 / 30


def test_an_unwritable_folder_leaves_the_show_playing(config, tmp_path, caplog):
    (tmp_path / "file").write_text("")
    config = replace(config, paths=replace(config.paths, recordings=str(tmp_path / "file" / "sub")))
    clock = Clock()
    show = Show(config, SCENES, "dawn")
    live = LiveRecording(config, RATE, clock, show.report)
    live.follow(show)
    show.submit(Command("/record/start", (), "test"))
    perform(show, live, clock, 0.2)
    live.close()
    assert show.get("/record/active") is False
    assert "cannot write the recording" in caplog.text and "the show goes on" in caplog.text


def test_the_mixed_sound_alone_goes_to_a_wav_for_the_whole_show(config, tmp_path):
    import soundfile
    clock = Clock()
    show = Show(config, SCENES, "dawn")
    live = LiveRecording(config, RATE, clock, show.report, audio_path=tmp_path / "mix.wav")
    perform(show, live, clock, 1.0, flash_at=100.5)
    live.close()
    samples, rate = soundfile.read(tmp_path / "mix.wav", dtype="float32")
    assert rate == RATE and abs(len(samples) - RATE) <= BLOCK
    assert np.argmax(np.abs(samples[:, 0]) > 0.3) == RATE // 2
