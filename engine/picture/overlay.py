"""The on-screen status (key o): fps, queue, scene, OSC port, underruns, over the picture."""

from __future__ import annotations

import pygame

from engine.picture.canvas import SurfaceCanvas


class StatusOverlay:
    """The on-screen status (key o): a few lines of text, drawn again only every half second."""

    REFRESH = 0.5

    def __init__(self):
        self._font: pygame.font.Font | None = None
        self._surface: pygame.Surface | None = None
        self._drawn_at = float("-inf")

    def draw(self, target, now: float, lines) -> None:
        """On a Surface or a canvas. `lines()` gives the text; it is asked for only when the text is drawn
        again (gathering it reads the audio percentiles, ~0.25 ms: not work for every frame)."""
        canvas = SurfaceCanvas(target) if isinstance(target, pygame.Surface) else target
        if now - self._drawn_at >= self.REFRESH or self._surface is None:
            self._drawn_at = now
            self._surface = self._render(lines(), max(14, canvas.size[1] // 45))
        canvas.overlay(self._surface, (12, 12))

    def _render(self, lines: list[str], size: int) -> pygame.Surface:
        if not pygame.font.get_init():
            pygame.font.init()
        if self._font is None or self._font.get_height() < size - 2 or self._font.get_height() > size + 8:
            self._font = pygame.font.Font(None, size)
        texts = [self._font.render(line, True, (235, 235, 235)) for line in lines]
        width = max(t.get_width() for t in texts) + 16
        height = sum(t.get_height() for t in texts) + 12
        panel = pygame.Surface((width, height), pygame.SRCALPHA)
        panel.fill((0, 0, 0, 150))
        y = 6
        for t in texts:
            panel.blit(t, (8, y))
            y += t.get_height()
        return panel
