"""Where frames are drawn: a pygame Surface (SDL's blitters, on the CPU) or SDL's 2D renderer (textures
scaled and blended by the graphics card, `[display] renderer = "sdl2"`, for 4K).

The Renderer (engine/picture/compositor.py) decides what to draw; a canvas knows how, with the same few operations:
clear, a postcard's paper, a picture (part of a postcard, placed, panned, with alpha), a layer composed
apart and faded in, darkening, and a small overlay.
"""

from __future__ import annotations

import pygame

BACKGROUND = (0, 0, 0)
CARD_WHITE = (236, 232, 222)   # the postcard frame: warm paper, not screen white
SHADOW = (0, 0, 0, 110)
BLEND = 1                      # SDL_BLENDMODE_BLEND


def shadow_offset(card: pygame.Rect) -> int:
    return max(3, card.w // 60)


class SurfaceCanvas:
    """Draws on a Surface: a window's, or an offscreen video frame's. Pictures are smoothscaled once per
    size (cached on the picture), then only blitted."""

    def __init__(self, target: pygame.Surface):
        self.target = self._drawing = target
        self._scratch: pygame.Surface | None = None
        self._shadow: pygame.Surface | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.target.get_size()

    def clear(self) -> None:
        self._drawing.fill(BACKGROUND)

    def card(self, card: pygame.Rect) -> None:
        if self._shadow is None or self._shadow.get_size() != card.size:
            self._shadow = pygame.Surface(card.size, pygame.SRCALPHA)
            self._shadow.fill(SHADOW)
        offset = shadow_offset(card)
        self._drawing.blit(self._shadow, card.move(offset, offset))
        self._drawing.fill(CARD_WHITE, card)

    def prepare(self, picture, index: int, placement) -> bool:
        """Make what drawing this picture needs; True if there was work to do."""
        if picture.has_scaled(index, placement):
            return False
        picture.scaled(index, placement)
        return True

    def picture(self, picture, index: int, placement, pan: tuple[int, int], alpha: float) -> None:
        self._blit(picture.scaled(index, placement), placement.dest, pygame.Rect(pan, placement.dest.size), alpha)

    def _blit(self, surface: pygame.Surface, dest, area: pygame.Rect | None, alpha: float) -> None:
        level = round(255 * alpha)
        if level <= 0:
            return  # fully transparent: nothing to draw
        # Full opacity must be a plain copy, not surface alpha 255: SDL has no fast blitter for that
        # combination, and its generic one takes ~13 ms at 1080p against ~1.1 ms for any other alpha and
        # ~0.4 ms for a copy. Every eased crossfade ends with a few frames that round to 255.
        surface.set_alpha(level if level < 255 else None)
        self._drawing.blit(surface, dest, area)
        surface.set_alpha(None)

    def begin_layer(self) -> None:
        if self._scratch is None or self._scratch.get_size() != self.size:
            self._scratch = pygame.Surface(self.size, 0, self.target)
        self._drawing = self._scratch
        self.clear()

    def end_layer(self, alpha: float) -> None:
        self._drawing = self.target
        self._blit(self._scratch, (0, 0), None, alpha)

    def darken(self, black: float) -> None:
        level = round(255 * (1.0 - black))
        self.target.fill((level, level, level), special_flags=pygame.BLEND_MULT)

    def overlay(self, surface: pygame.Surface, position: tuple[int, int]) -> None:
        self.target.blit(surface, position)


class TextureCanvas:
    """Draws with SDL's renderer (`pygame._sdl2.video`): each picture is a texture at its own small size,
    scaled (linear filtering) and blended on the graphics card; only `present()` reaches the screen."""

    def __init__(self, renderer):
        from pygame._sdl2 import video

        self.video, self.renderer = video, renderer
        self._scratch = None
        self._overlay: tuple[pygame.Surface, object] | None = None

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.renderer.get_viewport().size)  # the whole output: no viewport is left set

    def clear(self) -> None:
        self.renderer.draw_color = (*BACKGROUND, 255)
        self.renderer.clear()

    def card(self, card: pygame.Rect) -> None:
        offset = shadow_offset(card)
        self.renderer.draw_blend_mode = BLEND
        self.renderer.draw_color = SHADOW
        self.renderer.fill_rect(card.move(offset, offset))
        self.renderer.draw_color = (*CARD_WHITE, 255)
        self.renderer.fill_rect(card)

    def _texture(self, picture, index: int):
        textures = picture.textures
        texture = textures.get(index)
        if texture is None:
            texture = textures[index] = self.video.Texture.from_surface(self.renderer, picture.surface(index))
            texture.blend_mode = BLEND
        return texture

    def prepare(self, picture, index: int, placement) -> bool:
        if index in picture.textures:
            return False
        self._texture(picture, index)
        return True

    def picture(self, picture, index: int, placement, pan: tuple[int, int], alpha: float) -> None:
        texture = self._texture(picture, index)
        texture.alpha = round(255 * alpha)
        # The viewport clips to the visible rectangle; the picture, larger by the drift, moves under it.
        self.renderer.set_viewport(placement.dest)
        texture.draw(srcrect=placement.crop, dstrect=(-pan[0], -pan[1], *placement.scaled))
        self.renderer.set_viewport(None)

    def begin_layer(self) -> None:
        size = self.size
        if self._scratch is None or (self._scratch.width, self._scratch.height) != size:
            self._scratch = self.video.Texture(self.renderer, size, target=True)
            self._scratch.blend_mode = BLEND
        self.renderer.target = self._scratch
        self.clear()

    def end_layer(self, alpha: float) -> None:
        self.renderer.target = None
        self._scratch.alpha = round(255 * alpha)
        self._scratch.draw()

    def darken(self, black: float) -> None:
        self.renderer.draw_blend_mode = BLEND
        self.renderer.draw_color = (0, 0, 0, round(255 * black))
        self.renderer.fill_rect(pygame.Rect((0, 0), self.size))

    def overlay(self, surface: pygame.Surface, position: tuple[int, int]) -> None:
        if self._overlay is None or self._overlay[0] is not surface:  # a new texture only when the text changes
            texture = self.video.Texture.from_surface(self.renderer, surface)
            texture.blend_mode = BLEND
            self._overlay = (surface, texture)
        self._overlay[1].draw(dstrect=pygame.Rect(position, surface.get_size()))

    def to_surface(self) -> pygame.Surface:
        """Read the frame back from the graphics card (for the recorder; slow: only while recording)."""
        return self.renderer.to_surface()
