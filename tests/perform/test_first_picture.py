"""A show has a picture from its first frame: the postcards its model painted last time (or the model's own
samples), while the sampler's worker loads torch; what controllers send is applied from the first frames,
and the slow parts of a start (PyAV, the mix's processes) do not hold frames back."""

from __future__ import annotations

import shutil
import time
from dataclasses import replace

import numpy as np
import pygame
import pytest
from PIL import Image
from pythonosc.udp_client import SimpleUDPClient

from engine.perform.live import Live
from engine.settings.config import load_config

from conftest import WAIT, write_config
from control_helpers import free_port

DARK = 8  # mean pixel value of a black screen (the letterbox around a postcard is black, so: any picture)


def brightness(surface) -> float:
    return float(np.frombuffer(pygame.image.tobytes(surface, "RGB"), dtype=np.uint8).mean())


def model_with_samples(tmp_path, tiny_model, colour=(40, 160, 60)):
    model = tmp_path / "models" / "sampled"
    shutil.copytree(tiny_model, model)
    (model / "samples").mkdir()
    Image.new("RGB", (32, 32), colour).save(model / "samples" / "postcard_000.png")
    return model


def headless(config):
    return replace(config, display=replace(config.display, headless=True))


@pytest.mark.parametrize("driver", ["dummy", pytest.param("x11", marks=pytest.mark.display)])
def test_the_first_frame_shows_the_postcards_the_last_show_painted(tmp_path, tiny_model, monkeypatch, driver):
    config = load_config(write_config(tmp_path, tiny_model))
    if driver == "x11":
        monkeypatch.setenv("SDL_VIDEODRIVER", "x11")
    else:
        config = headless(config)
    first = Live(config, audio=False, controllers=False)
    first.start()
    try:
        assert brightness(pygame.display.get_surface()) <= DARK  # a model never shown, with no samples
        end = time.monotonic() + WAIT
        while first.sampler.stats["made"] < 2 and time.monotonic() < end:
            first.frame(time.monotonic())
            time.sleep(0.05)
        painted = first.sampler.stats["made"]
    finally:
        first.stop()  # waits for the cache's writer
    assert painted >= 2
    second = Live(config, audio=False, controllers=False)
    second.start()  # draws and presents one frame before it returns
    try:
        assert second.performance.frames == 1
        assert brightness(pygame.display.get_surface()) > DARK
        assert second.performance.renderer.current is not None
        assert second.sampler.stats["made"] == 0  # what is on screen came from the cache
    finally:
        second.stop()


def test_a_model_never_shown_starts_with_its_own_samples(tmp_path, tiny_model):
    config = headless(load_config(write_config(tmp_path, tiny_model)))
    model = model_with_samples(tmp_path, tiny_model)
    (tmp_path / "scenes" / "tiny.toml").write_text(f'[visual]\nmodel = "{model}"\nsteps = 3\nframe = "postcard"\n')
    live = Live(config, audio=False, controllers=False)
    live.start()
    try:
        surface = pygame.display.get_surface()
        w, h = surface.get_size()
        assert tuple(surface.get_at((w // 2, h // 2)))[:3] == (40, 160, 60)  # the sample, drawn at once
    finally:
        live.stop()


@pytest.mark.jack
def test_controls_are_applied_while_the_sound_still_starts(tmp_path, tiny_model):
    """The mix's processes start on a thread of their own: frames, and what OSC sends, go on meanwhile."""
    port = free_port()
    config = headless(load_config(write_config(tmp_path, tiny_model, audio='device = "JACK"',
                                               osc=f"enabled = true\nport = {port}")))
    live = Live(config)
    live.start()
    try:
        assert live.audio is None  # not yet: it is being started behind the frames
        SimpleUDPClient("127.0.0.1", port).send_message("/visual/black", 1.0)
        server = live.controllers.osc
        end = time.monotonic() + 10
        while server.stats["forwarded"] == 0 and time.monotonic() < end:
            time.sleep(0.005)  # the OSC thread has it: the next frame applies it
        live.frame(time.monotonic())
        assert live.show.get("/visual/black") == 1.0
        while live.audio is None and time.monotonic() < end + WAIT:
            live.frame(time.monotonic())
            time.sleep(0.02)
        assert live.audio is not None and live.audio.board is not None  # attached by the frame loop
        assert live.audio.board.master == live.show.get("/audio/master")
    finally:
        live.stop()
