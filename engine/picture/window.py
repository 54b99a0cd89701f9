"""The show's window: pygame's display surface, or (with [display] renderer = "sdl2") a window drawn by
SDL's renderer, textures scaled and blended on the graphics card. Key f toggles fullscreen on either."""

from __future__ import annotations

import logging
import os

import pygame

from engine.errors import UserError
from engine.settings.config import DisplaySettings

log = logging.getLogger(__name__)

TITLE = "Postcards from my Jungle"


class Window:
    def __init__(self, display: DisplaySettings, size: tuple[int, int]):
        self.display, self.size = display, size
        self.canvas = None      # with renderer = "sdl2": the TextureCanvas frames are drawn on
        self._window = None     # ... and its SDL window

    def open(self, fullscreen: bool) -> None:
        """Open the window, or switch the open one to (or from) fullscreen."""
        pygame.display.set_caption(TITLE)
        display = self.display
        if display.headless:
            pygame.display.set_mode(self.size)
            return
        count = pygame.display.get_num_displays()
        if display.display >= count:
            raise UserError(f"display.display / --display: expected a monitor 0..{count - 1}, found {display.display}")
        if display.renderer == "sdl2":
            self._open_sdl2(fullscreen)
            return
        flags = pygame.FULLSCREEN if fullscreen else 0
        size = (0, 0) if fullscreen else self.size
        try:
            pygame.display.set_mode(size, flags, display=display.display, vsync=int(display.vsync))
        except pygame.error as e:  # some drivers refuse vsync on a plain window: pace on the clock instead
            log.info("no vsync here (%s); pacing on the clock", e)
            pygame.display.set_mode(size, flags, display=display.display)
        pygame.mouse.set_visible(not fullscreen)

    def _open_sdl2(self, fullscreen: bool) -> None:
        from pygame._sdl2 import video

        from engine.picture.canvas import TextureCanvas

        if self._window is not None:  # key f: the same window, fullscreen or not
            if fullscreen:
                self._window.set_fullscreen(desktop=True)
            else:
                self._window.set_windowed()
        else:
            os.environ.setdefault("SDL_RENDER_SCALE_QUALITY", "linear")  # smooth upscaling of small postcards
            centred = 0x2FFF0000 | self.display.display  # SDL_WINDOWPOS_CENTERED_DISPLAY(n)
            self._window = video.Window(TITLE, size=self.size, position=(centred, centred),
                                        fullscreen_desktop=fullscreen)
            self.canvas = TextureCanvas(video.Renderer(self._window, vsync=self.display.vsync))
        pygame.mouse.set_visible(not fullscreen)

    def target(self):
        """What frames are drawn on: the canvas, or the display surface."""
        return self.canvas or pygame.display.get_surface()

    def present(self) -> None:
        """Show the frame just drawn."""
        if self.canvas is not None:
            self.canvas.renderer.present()
        else:
            pygame.display.flip()

    def close(self) -> None:
        """Destroy SDL's window (its renderer's textures must be gone first)."""
        self.canvas = None
        if self._window is not None:
            self._window.destroy()
            self._window = None
