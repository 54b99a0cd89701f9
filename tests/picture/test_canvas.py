"""Canvases: SDL2 textures (on the graphics card) draw the same frames as surface blits."""

from __future__ import annotations

import os

import numpy as np
import pygame
import pytest

from engine.picture.canvas import SurfaceCanvas, TextureCanvas
from engine.picture.compositor import Look, Renderer
from engine.postcards.maker import Postcard

SIZE = (320, 180)


def postcards():
    rng = np.random.default_rng(3)
    smooth = np.kron(rng.integers(0, 255, (8, 8, 3)), np.ones((8, 8, 1))).astype(np.uint8)  # big flat blocks
    return (Postcard(1, np.full((64, 64, 3), (200, 40, 0), np.uint8)),
            Postcard(2, smooth, [np.full((64, 64, 3), (0, 200, 0), np.uint8)] * 6))


def frames(canvas, read, look):
    a, b = postcards()
    r = Renderer()
    shots = []
    r.begin(a, 0.0, 0.0)
    r.begin(b, 1.0, 2.0)
    for t in (1.5, 2.0, 2.9, 3.5):
        r.draw(canvas, t, look)
        shots.append(read())
    return shots


@pytest.mark.display
@pytest.mark.parametrize("look", [Look(frame="letterbox"), Look(frame="postcard", black=0.3),
                                  Look(frame="fill", reveal=True, easing="linear")])
def test_textures_draw_what_surfaces_draw(monkeypatch, look):
    from pygame._sdl2 import video

    monkeypatch.setenv("SDL_VIDEODRIVER", "x11")
    monkeypatch.setenv("SDL_RENDER_SCALE_QUALITY", "linear")
    pygame.display.init()
    try:
        window = video.Window("test", size=SIZE)
        renderer = video.Renderer(window)
        textured = frames(TextureCanvas(renderer), lambda: pygame.surfarray.array3d(renderer.to_surface()), look)
        window.destroy()
        target = pygame.Surface(SIZE, 0, 32)
        blitted = frames(SurfaceCanvas(target), lambda: pygame.surfarray.array3d(target), look)
    finally:
        pygame.display.quit()
    for t, s in zip(textured, blitted):
        # Filtering differs at block edges (GPU linear vs smoothscale); the picture is the same.
        difference = np.abs(t.astype(int) - s.astype(int))
        assert np.median(difference) <= 2 and difference.mean() < 6, (look, difference.mean())


def test_surface_canvas_layers_compose_apart_then_fade_in():
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    target = pygame.Surface(SIZE, 0, 32)
    canvas = SurfaceCanvas(target)
    target.fill((100, 100, 100))
    canvas.begin_layer()
    assert pygame.Color(target.get_at((5, 5)))[:3] == (100, 100, 100)  # the layer is drawn apart
    canvas.card(pygame.Rect(100, 50, 40, 40))
    canvas.end_layer(0.5)
    assert tuple(target.get_at((120, 70)))[:3] == pytest.approx((168, 166, 161), abs=2)  # paper, half in
    assert tuple(target.get_at((5, 5)))[:3] == pytest.approx((50, 50, 50), abs=1)        # black, half in
    canvas.darken(1.0)
    assert tuple(target.get_at((120, 70)))[:3] == (0, 0, 0)


class BlitLog(pygame.Surface):
    """A target that notes the surface alpha of every source blitted onto it."""

    def __init__(self, size):
        super().__init__(size, 0, 32)
        self.alphas = []

    def blit(self, source, dest, area=None, special_flags=0):
        self.alphas.append(source.get_alpha())
        return super().blit(source, dest, area, special_flags)


def test_surface_canvas_copies_what_is_fully_opaque_and_skips_what_is_invisible():
    # Surface alpha 255 takes SDL's slow generic blitter (~13 ms at 1080p): the last frames of an eased
    # crossfade round to 255 and must be plain copies; alpha 0 draws nothing at all.
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    a, b = postcards()
    target = BlitLog(SIZE)
    r = Renderer()
    r.begin(a, 0.0, 0.0)
    r.begin(b, 1.0, 1.0)
    look = Look(frame="fill")
    for t, drawn in ((1.0, [None]), (1.5, [None, 128]), (1.999, [None, None])):
        target.alphas.clear()
        r.draw(target, t, look)
        assert target.alphas == drawn, t
    canvas = SurfaceCanvas(target)
    canvas.begin_layer()
    canvas.card(pygame.Rect(10, 10, 40, 40))
    target.alphas.clear()
    canvas.end_layer(0.9995)
    assert target.alphas == [None] and canvas._scratch.get_alpha() is None
