"""Frames handed from the frame loop to an output's thread: the newest wins, a slow consumer costs dropped
(and counted) frames, never a wait; the pixels arrive as the surface held them."""

from __future__ import annotations

import os

import numpy as np
import pygame
import pytest

from engine.record.handoff import Handoff


@pytest.fixture
def surface():
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    pygame.display.init()
    yield pygame.Surface((64, 36), 0, 32)
    pygame.display.quit()


def test_the_consumer_gets_the_newest_frame_and_stale_ones_are_counted(surface):
    handoff = Handoff(slots=2)
    for i, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        surface.fill(colour)
        assert handoff.offer(surface, float(i))
    frame, now = handoff.take(timeout=1)
    assert now == 2.0 and frame.shape == (36, 64, 4)
    assert tuple(frame[5, 5, :3]) == ((255, 0, 0) if handoff.order == "BGRX" else (0, 0, 255))  # blue as B, G, R
    assert handoff.stats["dropped"] == 2  # the two frames nobody took in time
    handoff.release(frame)


def test_a_consumer_holding_every_slot_costs_drops_not_waits(surface):
    handoff = Handoff(slots=2)
    held = []
    for i in range(2):
        handoff.offer(surface, float(i))
        held.append(handoff.take(timeout=1)[0])
    assert not handoff.offer(surface, 2.0)  # no slot free: dropped at once
    assert handoff.stats == {"offered": 3, "dropped": 1, "taken": 2}
    handoff.release(held.pop())
    assert handoff.offer(surface, 3.0)


def test_a_new_size_gets_new_slots_and_close_wakes_the_consumer(surface):
    handoff = Handoff()
    handoff.offer(surface, 0.0)
    bigger = pygame.Surface((80, 45), 0, 32)
    bigger.fill((10, 20, 30))
    handoff.offer(bigger, 1.0)
    frame, _ = handoff.take(timeout=1)
    assert frame.shape == (45, 80, 4) and np.all(frame[..., :3] == frame[0, 0, :3])
    handoff.close()
    assert handoff.take(timeout=5) is None


def test_a_preview_takes_every_step_th_pixel(surface):
    handoff = Handoff()
    surface.fill((0, 0, 0))
    surface.fill((200, 100, 50), pygame.Rect(0, 0, 1, 36))   # column 0 coloured: kept at step 2
    surface.fill((10, 20, 30), pygame.Rect(1, 0, 1, 36))     # column 1: skipped
    handoff.offer(surface, 0.0, step=2)
    frame, _ = handoff.take(timeout=1)
    assert frame.shape == (18, 32, 4)
    blue_green_red = (50, 100, 200) if handoff.order == "BGRX" else (200, 100, 50)
    assert tuple(frame[3, 0, :3]) == blue_green_red and tuple(frame[3, 1, :3]) == (0, 0, 0)
