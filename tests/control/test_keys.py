"""Keys are a controller: pygame key events become Commands the Show applies."""

from __future__ import annotations

import os

import pygame
import pytest

from engine.settings.config import load_config
from engine.control.keys import command_for, submit_keys
from engine.show.state import Show

from conftest import SCENES


@pytest.fixture(autouse=True, scope="module")
def sdl():
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    pygame.display.init()
    pygame.display.set_mode((64, 64))
    yield


def press(key):
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode="", scancode=0))


def test_keys_drive_the_show():
    show = Show(load_config(), SCENES, "dawn")
    show.postcard_shown(0.0)
    pygame.event.clear()
    for key in (pygame.K_SPACE, pygame.K_o, pygame.K_m, pygame.K_s, pygame.K_x):
        press(key)
    assert submit_keys(show) == 4  # x means nothing
    show.update(0.0)
    values = show.values()
    assert show.next_wanted and values["/display/overlay"] and values["/audio/mute"]
    assert show.scene.name == "night"
    press(pygame.K_o)
    press(pygame.K_ESCAPE)
    submit_keys(show)
    show.update(0.1)
    assert not show.get("/display/overlay") and show.quit_requested


def test_toggles_read_the_current_value_and_record_follows_recording():
    event = pygame.event.Event(pygame.KEYDOWN, key=pygame.K_f)
    assert command_for(event, {"/display/fullscreen": False}).args == (True,)
    assert command_for(event, {"/display/fullscreen": True}).args == (False,)
    r = pygame.event.Event(pygame.KEYDOWN, key=pygame.K_r)
    assert command_for(r, {"/record/active": False}).address == "/record/start"
    assert command_for(r, {"/record/active": True}).address == "/record/stop"
    assert command_for(pygame.event.Event(pygame.QUIT), {}).address == "/show/quit"
