"""The compositor's part in playing with the music: a morph blends through its in-betweens, the sound's pace
drives the drift and the transition, and a zoom looks closer."""

from __future__ import annotations

import os

import numpy as np
import pygame
import pytest

from engine.picture.compositor import Look, Renderer
from engine.postcards.maker import Postcard

RED, BLUE, GREEN, WHITE = (200, 0, 0), (0, 0, 100), (0, 255, 0), (250, 250, 250)


@pytest.fixture(autouse=True, scope="module")
def sdl():
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    pygame.display.init()
    yield


def flat(color, size=64):
    return np.full((size, size, 3), color, np.uint8)


def middle(surface):
    return tuple(surface.get_at((160, 90)))[:3]


def close(got, want, tolerance=3):
    return all(abs(g - w) <= tolerance for g, w in zip(got, want))


def test_a_morph_blends_through_its_in_betweens_when_it_follows_the_postcard_on_screen():
    look = Look(frame="fill", easing="linear")
    target = pygame.Surface((320, 180))
    r = Renderer()
    r.begin(Postcard(1, flat(RED)), 0.0, 0.0)
    r.draw(target, 0.0, look)
    r.begin(Postcard(2, flat(BLUE), [flat(GREEN), flat(WHITE)], morph_from=1), 1.0, 3.0)
    seen = []
    for t in (1.0, 1.5, 2.0, 2.5, 3.0, 4.0):   # red, green, white, blue at 0, 1/3, 2/3, 1 of the way
        r.draw(target, t, look)
        seen.append(middle(target))
    assert seen[0] == RED and close(seen[2], GREEN) and close(seen[4], WHITE) and seen[5] == BLUE
    assert close(seen[1], tuple((a + b) / 2 for a, b in zip(RED, GREEN)), 4)  # between red and green


def test_in_betweens_from_another_postcard_are_not_shown():
    look = Look(frame="fill", easing="linear")
    target = pygame.Surface((320, 180))
    r = Renderer()
    r.begin(Postcard(1, flat(RED)), 0.0, 0.0)
    r.draw(target, 0.0, look)
    r.begin(Postcard(3, flat(BLUE), [flat(GREEN), flat(WHITE)], morph_from=2), 1.0, 2.0)
    r.draw(target, 2.0, look)   # half way: a plain crossfade of red and blue, no green
    assert close(middle(target), tuple((a + b) / 2 for a, b in zip(RED, BLUE)), 4)


def test_the_transitions_pace_holds_it_or_hurries_it():
    target = pygame.Surface((320, 180))
    r = Renderer()
    r.begin(Postcard(1, flat(RED)), 0.0, 0.0)
    r.draw(target, 0.0, Look(frame="fill"))
    r.begin(Postcard(2, flat(BLUE)), 1.0, 2.0)
    r.draw(target, 1.5, Look(frame="fill", easing="linear", pace=0.0))   # held: nothing came in
    assert middle(target) == RED
    r.draw(target, 2.0, Look(frame="fill", easing="linear", pace=2.0))   # 0.5 s at twice the pace: half way
    assert close(middle(target), tuple((a + b) / 2 for a, b in zip(RED, BLUE)), 4)


def gradient():
    picture = np.zeros((64, 64, 3), np.uint8)
    picture[..., 0] = np.arange(64, dtype=np.uint8)[None, :] * 4
    picture[..., 1] = np.arange(64, dtype=np.uint8)[:, None] * 4
    return picture


def test_the_drifts_pace_follows_the_sound_and_zero_stands_still():
    shots = {}
    for pace in (0.0, 1.0, 2.0):
        target = pygame.Surface((320, 180))
        r = Renderer()
        r.drift_span = 10.0
        r.begin(Postcard(3, gradient()), 0.0, 0.0)
        for t in np.arange(0.0, 2.51, 0.1):
            r.draw(target, float(t), Look(frame="fill", drift=0.2, drift_pace=pace))
        shots[pace] = pygame.image.tobytes(target, "RGB")
    still = pygame.Surface((320, 180))
    r = Renderer()
    r.begin(Postcard(3, gradient()), 0.0, 0.0)
    r.draw(still, 0.0, Look(frame="fill", drift=0.2))
    assert shots[0.0] == pygame.image.tobytes(still, "RGB")
    assert shots[1.0] != shots[0.0] and shots[2.0] != shots[1.0]
    # Twice the pace for 2.5 s is where the usual pace is at 5 s.
    target = pygame.Surface((320, 180))
    r = Renderer()
    r.drift_span = 10.0
    r.begin(Postcard(3, gradient()), 0.0, 0.0)
    r.draw(target, 0.0, Look(frame="fill", drift=0.2))
    r.draw(target, 5.0, Look(frame="fill", drift=0.2))
    assert pygame.image.tobytes(target, "RGB") == shots[2.0]


def test_a_zoom_looks_closer_at_the_middle():
    picture = np.zeros((64, 64, 3), np.uint8)
    picture[28:36, 28:36] = WHITE
    sizes = []
    for zoom in (0.0, 0.5):
        target = pygame.Surface((320, 180))
        r = Renderer()
        r.begin(Postcard(1, picture), 0.0, 0.0)
        r.draw(target, 0.0, Look(frame="letterbox", zoom=zoom))
        white = pygame.surfarray.array3d(target)[..., 0] > 200
        sizes.append(white.sum())
        xs, ys = np.nonzero(white)
        assert abs(xs.mean() - 160) < 3 and abs(ys.mean() - 90) < 3
    assert sizes[1] == pytest.approx(sizes[0] * 1.5 ** 2, rel=0.1)
