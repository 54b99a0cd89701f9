"""The renderer: eased crossfades give the right pixels, frames are placed as the scene says, reveal, black."""

from __future__ import annotations

import os

import numpy as np
import pygame
import pytest

from engine.picture.compositor import EASINGS, Look, Renderer, SurfacePool, ease, place
from engine.picture.overlay import StatusOverlay
from engine.postcards.maker import Postcard

RED, BLUE, GREEN = (200, 0, 0), (0, 0, 100), (0, 255, 0)


@pytest.fixture(autouse=True, scope="module")
def sdl():
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    pygame.display.init()
    yield


def card(seed, color, size=64, previews=()):
    return Postcard(seed, np.full((size, size, 3), color, np.uint8),
                    [np.full((size, size, 3), c, np.uint8) for c in previews])


def pixel(surface, xy):
    return tuple(surface.get_at(xy))[:3]


def blend(a, b, amount):
    alpha = round(255 * amount) / 255
    return tuple(x * (1 - alpha) + y * alpha for x, y in zip(a, b))


def close(got, want, tolerance=2):
    return all(abs(g - w) <= tolerance for g, w in zip(got, want))


def crossfading(look, duration=2.0, size=(320, 180)):
    target = pygame.Surface(size)
    r = Renderer()
    r.begin(card(1, RED), 0.0, 0.0)
    r.draw(target, 0.0, look)
    r.begin(card(2, BLUE), 10.0, duration)
    return r, target


@pytest.mark.parametrize("easing", sorted(EASINGS))
@pytest.mark.parametrize("frame", ["letterbox", "fill", "postcard"])
def test_crossfade_midpoint_and_quarter_give_the_blended_pixels(easing, frame):
    look = Look(frame=frame, easing=easing)
    r, target = crossfading(look)
    for at in (0.25, 0.5):
        r.draw(target, 10.0 + 2.0 * at, look)
        got = pixel(target, (160, 90))
        assert close(got, blend(RED, BLUE, ease(easing, at))), (frame, easing, at, got)
    r.draw(target, 10.5 + 2.0, look)
    assert pixel(target, (160, 90)) == BLUE and not r.busy


def test_easings_start_at_0_end_at_1_and_meet_at_the_middle():
    for name, fn in EASINGS.items():
        assert fn(0.0) == 0.0 and fn(1.0) == 1.0 and abs(fn(0.5) - 0.5) < 1e-9, name
    assert ease("smoothstep", 0.25) < 0.25 < ease("smoothstep", 0.75) - 0.5  # slow in, slow out
    assert ease("linear", -1) == 0.0 and ease("linear", 7) == 1.0


def test_the_first_postcard_fades_in_from_black_and_the_bars_stay_black():
    target = pygame.Surface((320, 180))
    r = Renderer()
    r.begin(card(1, RED), 0.0, 1.0)
    look = Look(frame="letterbox", easing="linear")
    r.draw(target, 0.5, look)
    assert close(pixel(target, (160, 90)), blend((0, 0, 0), RED, 0.5))
    assert pixel(target, (10, 90)) == (0, 0, 0)


def test_frame_modes_place_the_postcard():
    assert place((64, 64), (1280, 720), "letterbox", 0.0).dest == pygame.Rect(280, 0, 720, 720)
    fill = place((64, 64), (1280, 720), "fill", 0.0)
    assert fill.dest == pygame.Rect(0, 0, 1280, 720)
    assert fill.crop == pygame.Rect(0, 14, 64, 36) and fill.scaled == (1280, 720)  # only what shows is scaled
    framed = place((64, 64), (1280, 720), "postcard", 0.0)
    assert framed.card.contains(framed.dest) and framed.card.h < 720
    drifting = place((64, 64), (1280, 720), "letterbox", 0.1)
    assert drifting.scaled == (792, 792)  # 10 % more picture than shows: the room drift pans over

    look = Look(frame="postcard")
    target = pygame.Surface((320, 180))
    r = Renderer()
    r.begin(card(1, RED), 0.0, 0.0)
    r.draw(target, 0.0, look)
    assert pixel(target, (160, 90)) == RED
    edge = place((64, 64), (320, 180), "postcard", 0.0).card
    assert pixel(target, (edge.left + 1, 90)) == (236, 232, 222)  # the paper around the picture
    assert pixel(target, (2, 2)) == (0, 0, 0)


def test_drift_pans_slowly_and_zero_drift_stands_still():
    picture = np.zeros((64, 64, 3), np.uint8)
    picture[..., 0] = np.arange(64, dtype=np.uint8)[None, :] * 4  # a gradient: movement shows
    picture[..., 1] = np.arange(64, dtype=np.uint8)[:, None] * 4
    frames = {}
    for drift in (0.0, 0.2):
        target = pygame.Surface((320, 180))
        r = Renderer()
        r.drift_span = 10.0
        r.begin(Postcard(3, picture), 0.0, 0.0)
        shots = []
        for t in (0.0, 2.5, 5.0, 5.05):
            r.draw(target, t, Look(frame="fill", drift=drift))
            shots.append(pygame.image.tobytes(target, "RGB"))
        frames[drift] = shots
    assert len(set(frames[0.0])) == 1
    still, quarter, half, next_frame = frames[0.2]
    assert still != quarter != half
    step = np.abs(np.frombuffer(half, np.uint8).astype(int) - np.frombuffer(next_frame, np.uint8)).mean()
    assert step < 3  # slow: one frame later the picture has hardly moved


def test_black_level_darkens_everything():
    target = pygame.Surface((320, 180))
    r = Renderer()
    r.begin(card(1, (200, 100, 40)), 0.0, 0.0)
    r.draw(target, 0.0, Look(black=0.5))
    assert close(pixel(target, (160, 90)), (100, 50, 20))
    r.draw(target, 0.0, Look(black=1.0))
    assert pixel(target, (160, 90)) == (0, 0, 0)


def test_reveal_fades_in_the_first_guess_then_sharpens_guess_by_guess():
    look = Look(frame="fill", easing="linear", reveal=True)
    target = pygame.Surface((320, 180))
    r = Renderer()
    r.begin(card(1, RED), 0.0, 0.0)
    r.draw(target, 0.0, look)
    guesses = [GREEN, GREEN, (0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0)]
    r.begin(card(2, BLUE, previews=guesses), 1.0, 10.0)
    r.draw(target, 1.0 + 0.15 * 10, look)  # half way through the fade: the first guess over the old one
    assert close(pixel(target, (160, 90)), blend(RED, GREEN, 0.5))
    position = 1.5  # guesses 1 (green) and 2 (black), half each
    r.draw(target, 1.0 + (0.3 + 0.7 * position / 6) * 10, look)
    assert close(pixel(target, (160, 90)), blend(GREEN, (0, 0, 0), 0.5))
    r.draw(target, 1.0 + 10.0, look)
    assert pixel(target, (160, 90)) == BLUE


def test_status_overlay_draws_text_in_the_corner():
    target = pygame.Surface((640, 360))
    target.fill((0, 0, 0))
    StatusOverlay().draw(target, 0.0, lambda: ["60.0 fps   scene dawn", "queue 3 ready"])
    corner = pygame.surfarray.array3d(target)[:200, :60]
    assert corner.max() > 200 and pixel(target, (600, 300)) == (0, 0, 0)


def test_the_status_text_is_gathered_only_when_it_is_drawn_again():
    asked = []
    overlay, target = StatusOverlay(), pygame.Surface((640, 360))
    for frame in range(60):                            # one second at 60 Hz
        overlay.draw(target, frame / 60, lambda: asked.append(frame) or ["60.0 fps"])
    assert asked == [0, 30]                            # every REFRESH (0.5 s), not every frame


def test_the_next_postcard_is_scaled_ahead_one_picture_per_frame():
    look = Look(frame="fill", reveal=True, drift=0.04)
    coming = card(5, BLUE, previews=[GREEN] * 6)
    r = Renderer()
    window = pygame.Surface((320, 180))
    for _ in range(7):
        r.prepare(coming, window, look)
    placement = place((64, 64), (320, 180), "fill", 0.04)
    r.begin(coming, 3.0, 1.0)
    assert all(r.incoming.has_scaled(i, placement) for i in range(7)) and r.incoming.born == 3.0
    r.prepare(card(6, RED), window, look)
    r.begin(card(7, RED), 4.0, 1.0)  # not the prepared one: made on the spot
    assert r.incoming.postcard.seed == 7


@pytest.mark.parametrize("frame", ["letterbox", "fill", "postcard"])
def test_the_middle_of_the_postcard_is_in_the_middle_of_the_window(frame):
    picture = np.zeros((64, 64, 3), np.uint8)
    picture[28:36, 28:36] = (250, 250, 250)  # a white square in the middle, black around
    target = pygame.Surface((1280, 720))
    r = Renderer()
    r.begin(Postcard(9, picture), 0.0, 0.0)
    r.draw(target, 0.0, Look(frame=frame))
    pixels = pygame.surfarray.array3d(target)[..., 0]
    ys, xs = np.nonzero(pixels.T > 200)
    assert abs(xs.mean() - 640) < 4 and abs(ys.mean() - 360) < 4


def test_a_finished_postcards_memory_is_used_again_for_the_next_one():
    # Fresh memory costs page faults in the frame that scales into it (4-27 ms at 1080p on this machine).
    look = Look(frame="fill", drift=0.04)
    target = pygame.Surface((320, 180))
    placement = place((64, 64), (320, 180), "fill", 0.04)
    r = Renderer()
    r.begin(card(1, RED), 0.0, 0.0)
    r.draw(target, 0.0, look)
    red = r.current.scaled(0, placement)
    r.begin(card(2, BLUE), 1.0, 1.0)
    r.draw(target, 1.5, look)
    r.draw(target, 2.0, look)            # red is gone for good: its picture goes back to the pool
    green = card(3, GREEN)
    r.prepare(green, target, look)       # scaled ahead, into red's memory
    r.begin(green, 3.0, 1.0)
    assert r.incoming.scaled(0, placement) is red
    r.draw(target, 4.0, look)
    assert pixel(target, (160, 90)) == GREEN  # every pixel scaled anew, nothing left of red


def test_a_reveal_gives_its_guesses_back_and_the_pool_stays_small():
    look = Look(frame="fill", reveal=True)
    target = pygame.Surface((320, 180))
    r = Renderer()
    for i in range(4):
        r.begin(card(i, BLUE, previews=[GREEN] * 6), float(i), 0.5)
        for t in np.arange(0.0, 0.6, 0.02):
            r.draw(target, i + t, look)
    assert len(r.current._scaled) == 1 and len(r._pool._spare) <= SurfacePool.KEEP
    assert len(r._pool._spare) >= 6  # the six guesses of the last reveal, ready for the next
