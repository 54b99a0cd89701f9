"""The picture: postcards crossfading on a pygame surface, eased, drifting, framed, faded to black.

Everything on the hot path is SDL's own work: a postcard is scaled with smoothscale once per window size
(and cached), drift pans a window over that slightly larger picture (a blit with a source area), a
crossfade is a blit with surface alpha, the black level a multiply fill. No per-pixel numpy per frame.

Timing comes from the caller's clock (`now`), so a live show (monotonic time) and an offline render
(exactly 1/fps per frame) draw the same frames for the same times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pygame

from engine.picture.canvas import SurfaceCanvas, TextureCanvas
from engine.postcards.maker import Postcard

REVEAL_FADE = 0.3   # share of a reveal spent fading the first guess in; the rest sharpens it
ZOOM_STEP = 0.004   # a zoom moves in steps this small (about 4 pixels at 1080p)
EASINGS = {
    "linear": lambda p: p,
    "smoothstep": lambda p: p * p * (3 - 2 * p),
    "cosine": lambda p: 0.5 - 0.5 * math.cos(math.pi * p),
}


@dataclass(frozen=True)
class Look:
    """How the picture looks this frame: from the scene and the show's current values."""
    frame: str = "letterbox"     # letterbox, fill, postcard
    easing: str = "smoothstep"
    drift: float = 0.0
    black: float = 0.0
    reveal: bool = False
    # What the sound moves (engine/picture/react.py): the pace of the drift and of a transition (1 = as the
    # clock goes), and a zoom into the picture's centre.
    drift_pace: float = 1.0
    pace: float = 1.0
    zoom: float = 0.0
    # The hidden animal retraced over the finished postcard (engine/postcards/retrace.py): how strongly (0 off)
    # and how (outline, spotlight, uncamouflage). Postcards of models without masks have nothing to retrace.
    retrace: float = 0.0
    retrace_mode: str = "outline"


def zoom_step(zoom: float) -> float:
    """A zoom rounded to ZOOM_STEP: each new zoom scales the picture again, so it moves in small steps."""
    return round(zoom / ZOOM_STEP) * ZOOM_STEP


def ease(easing: str, progress: float) -> float:
    return EASINGS[easing](min(1.0, max(0.0, progress)))


def to_surface(picture: np.ndarray) -> pygame.Surface:
    """(H, W, 3) uint8 -> a Surface in the screen's pixel format, so blits are plain copies (once a picture)."""
    surface = pygame.image.frombuffer(np.ascontiguousarray(picture).tobytes(), picture.shape[1::-1], "RGB")
    return surface.convert(pygame.display.get_surface() or pygame.Surface((1, 1), 0, 32))


@dataclass(frozen=True)
class Placement:
    """Where a picture goes in a window and which part of it is ever seen there.

    The picture is scaled by `scale` (screen pixels per picture pixel); fill crops it and drift shows it
    larger than `dest`, so only `crop` (picture pixels) is ever visible: only that part is scaled, to
    `scaled`. The visible rectangle rests at `centre` and pans by up to `reach` either way (both in
    the coordinates of the whole scaled picture, whose top-left `origin` the crop starts at)."""
    dest: pygame.Rect              # visible part on screen
    card: pygame.Rect | None       # the paper around it (postcard frame)
    crop: pygame.Rect              # the picture's pixels that can show
    scaled: tuple[int, int]        # size the crop is scaled to (>= dest: the margin drift pans over)
    origin: tuple[float, float]
    centre: tuple[float, float]
    reach: tuple[float, float]


def place(picture: tuple[int, int], window: tuple[int, int], frame: str, drift: float,
          zoom: float = 0.0) -> Placement:
    pw, ph = picture
    ww, wh = window
    card = None
    if frame == "fill":
        dest = pygame.Rect(0, 0, ww, wh)
    else:
        room = (ww, wh) if frame == "letterbox" else (ww * 0.8, wh * 0.8)
        s = min(room[0] / pw, room[1] / ph)
        dest = pygame.Rect(0, 0, max(1, round(pw * s)), max(1, round(ph * s)))
        dest.center = (ww // 2, wh // 2)
        if frame == "postcard":
            border = max(2, round(min(dest.size) * 0.05))
            card = dest.inflate(2 * border, 2 * border)
    scale = max(dest.w / pw, dest.h / ph) * (1.0 + drift) * (1.0 + zoom)
    centre = ((pw * scale - dest.w) / 2, (ph * scale - dest.h) / 2)
    reach = (min(2 * centre[0], dest.w * drift) / 2, min(2 * centre[1], dest.h * drift) / 2)
    # The picture pixels the visible rectangle can ever cover, rounded outwards.
    x0 = max(0, math.floor((centre[0] - reach[0]) / scale))
    y0 = max(0, math.floor((centre[1] - reach[1]) / scale))
    x1 = min(pw, math.ceil((centre[0] + reach[0] + dest.w) / scale))
    y1 = min(ph, math.ceil((centre[1] + reach[1] + dest.h) / scale))
    crop = pygame.Rect(x0, y0, x1 - x0, y1 - y0)
    scaled = (max(dest.w, round(crop.w * scale)), max(dest.h, round(crop.h * scale)))
    return Placement(dest, card, crop, scaled, (x0 * scale, y0 * scale), centre, reach)


class SurfacePool:
    """Scaled pictures' memory, used again. A new 1080p picture is ~2,200 fresh pages that the kernel (and on
    a virtual machine the host) must map and zero on first touch: ~5 ms of page faults in the frame that
    scales into it (up to 27 ms seen), against ~0.7 ms to smoothscale into memory already touched. A show
    needs the same few sizes over and over, so what a postcard no longer needs is kept for the next one."""

    KEEP = 8   # spare surfaces at most: a revealing postcard's seven pictures and a spare

    def __init__(self):
        self._spare: list[pygame.Surface] = []

    def take(self, size: tuple[int, int], like: pygame.Surface) -> pygame.Surface:
        wanted = (size, like.get_bitsize(), like.get_masks())
        for i, surface in enumerate(self._spare):
            if (surface.get_size(), surface.get_bitsize(), surface.get_masks()) == wanted:
                return self._spare.pop(i)
        return pygame.Surface(size, 0, like)

    def give(self, surfaces) -> None:
        self._spare = (list(surfaces) + self._spare)[:self.KEEP]  # the newest first: their size is wanted now


class Picture:
    """A postcard on its way to the screen: its surfaces, scaled once per placement (into `pool`'s memory)."""

    def __init__(self, postcard: Postcard, born: float, pool: SurfacePool):
        self.postcard, self.born, self.pool = postcard, born, pool
        self.age, self._aged_at = 0.0, born   # seconds of drift so far: the clock times the drift's pace
        self.frames = [to_surface(p) for p in postcard.previews] + [to_surface(postcard.image)]
        # The finished postcard retraced, by mode: drawn over it (key: the mode instead of a frame index).
        self.retraced = {mode: to_surface(p) for mode, p in postcard.retraced.items()}
        self._scaled: dict[tuple[int | str, tuple[int, int]], pygame.Surface] = {}
        self.textures: dict[int | str, object] = {}   # a TextureCanvas's textures of `frames` and `retraced`
        # Each postcard drifts its own way, chosen by its seed, so a live show and a render agree.
        angle = (postcard.seed * 0.618033988749895 % 1.0) * 2 * math.pi
        self.direction = (math.cos(angle), math.sin(angle))

    @property
    def size(self) -> tuple[int, int]:
        return self.frames[-1].get_size()

    def surface(self, index: int | str) -> pygame.Surface:
        """Frame `index`, or the retraced picture of mode `index`."""
        return self.retraced[index] if isinstance(index, str) else self.frames[index]

    def has_scaled(self, index: int, placement: Placement) -> bool:
        return (index, tuple(placement.crop), placement.scaled) in self._scaled

    def scaled(self, index: int, placement: Placement) -> pygame.Surface:
        """Frame `index`, the part of it that can show, smoothscaled (once per placement)."""
        key = (index, tuple(placement.crop), placement.scaled)
        surface = self._scaled.get(key)
        if surface is None:
            if len(self._scaled) > 2 * len(self.frames):  # a resized window or a drift slider: keep few
                self.release()
            part = self.surface(index).subsurface(placement.crop)
            surface = self.pool.take(placement.scaled, part)
            self._scaled[key] = pygame.transform.smoothscale(part, placement.scaled, surface)
        return surface

    def forget_previews(self) -> None:
        """After the reveal only the finished postcard (and its retraced pictures) are drawn: the rest goes back
        to the pool."""
        keep = {len(self.frames) - 1, *self.retraced}
        self.pool.give(v for k, v in self._scaled.items() if k[0] not in keep)
        self._scaled = {k: v for k, v in self._scaled.items() if k[0] in keep}
        self.textures = {k: v for k, v in self.textures.items() if k in keep}

    def release(self) -> None:
        """The picture is off the screen for good (or rescaled): its scaled surfaces go back to the pool."""
        self.pool.give(self._scaled.values())
        self._scaled.clear()

    def grow(self, now: float, pace: float) -> None:
        """The drift goes on from the last frame to `now` at `pace` (1 = with the clock)."""
        self.age += max(0.0, now - self._aged_at) * pace
        self._aged_at = now

    def pan(self, placement: Placement, span: float) -> tuple[int, int]:
        """Top-left of the visible area in the scaled crop: a slow back-and-forth along `direction`."""
        u = 0.5 - 0.5 * math.cos(2 * math.pi * self.age / (2 * span))  # 0 -> 1 -> 0, eased ends
        t = (u - 0.5) * 2  # -1 .. 1
        x = placement.centre[0] + t * self.direction[0] * placement.reach[0] - placement.origin[0]
        y = placement.centre[1] + t * self.direction[1] * placement.reach[1] - placement.origin[1]
        spare_x, spare_y = placement.scaled[0] - placement.dest.w, placement.scaled[1] - placement.dest.h
        return min(spare_x, max(0, round(x))), min(spare_y, max(0, round(y)))


class Renderer:
    """Draws the current postcard and the one coming in on a canvas (engine/picture/canvas.py), or on a Surface."""

    def __init__(self):
        self.current: Picture | None = None
        self.incoming: Picture | None = None
        self.started = 0.0
        self.duration = 0.0
        self._progress, self._progressed_at = 1.0, 0.0   # of the transition under way, at its pace
        self.drift_span = 10.0   # seconds of one pan sweep (the scene's hold + crossfade)
        self._canvas: SurfaceCanvas | None = None
        self._prepared: Picture | None = None
        self._pool = SurfacePool()

    @property
    def busy(self) -> bool:
        """A transition is under way."""
        return self.incoming is not None

    def begin(self, postcard: Postcard, now: float, duration: float) -> None:
        """Bring `postcard` in from `now` over `duration` seconds (a running transition completes first)."""
        if self.incoming is not None:
            self._finish()
        prepared, self._prepared = self._prepared, None
        if prepared is not None and prepared.postcard is not postcard:
            prepared.release()
            prepared = None
        self.incoming = prepared or Picture(postcard, now, self._pool)
        self.incoming.born = self.incoming._aged_at = now
        self.started, self.duration = now, duration
        self._progress, self._progressed_at = (0.0 if duration > 0 else 1.0), now

    def prepare(self, postcard: Postcard, target, look: Look) -> None:
        """Get the next postcard ready to draw, one picture per call, in frames with time to spare (while a
        postcard holds), so the frame a transition starts in does not pay for scaling it."""
        canvas = self.canvas(target)
        if self._prepared is None or self._prepared.postcard is not postcard:
            if self._prepared is not None:
                self._prepared.release()
            self._prepared = Picture(postcard, 0.0, self._pool)
        picture = self._prepared
        last = len(picture.frames) - 1
        placement = place(picture.size, canvas.size, look.frame, look.drift, zoom_step(look.zoom))
        for index in (*(range(last + 1) if look.reveal else (last,)), *retracing(picture, look)):
            if canvas.prepare(picture, index, placement):
                return

    def progress(self, now: float, pace: float = 1.0) -> float:
        """How far the transition under way is at `now`, having gone on since the last frame at `pace`."""
        if self.incoming is None:
            return 1.0
        if self.duration > 0:
            self._progress += max(0.0, now - self._progressed_at) * pace / self.duration
        else:
            self._progress = 1.0
        self._progressed_at = now
        self._progress = min(1.0, self._progress)
        return self._progress

    def canvas(self, target) -> SurfaceCanvas | TextureCanvas:
        """`target` as a canvas: a canvas as it is, a Surface wrapped (and kept, with its scratch layer)."""
        if not isinstance(target, pygame.Surface):
            return target
        if self._canvas is None or self._canvas.target is not target:
            self._canvas = SurfaceCanvas(target)
        return self._canvas

    def draw(self, target, now: float, look: Look) -> None:
        canvas = self.canvas(target)
        if self.incoming is not None and self.progress(now, look.pace) >= 1.0:
            self._finish()
        for picture in (self.current, self.incoming):
            if picture is not None:
                picture.grow(now, look.drift_pace)
        canvas.clear()
        picture, p = self.incoming, self.progress(now, look.pace)
        morph = self._morph()
        revealing = (picture is not None and look.reveal and len(picture.frames) > 1
                     and picture.postcard.morph_from is None)  # a morph's pictures are no guesses
        if morph:
            # One postcard grows into the next through the in-betweens painted from in-between noise.
            position = ease(look.easing, p) * (len(morph) - 1)
            index = min(int(position), len(morph) - 2)
            self._layer(canvas, *morph[index], look, decorate=True)
            self._layer(canvas, *morph[index + 1], look, decorate=False, alpha=position - index)
        elif revealing and p >= REVEAL_FADE:
            # The guesses cover the old postcard now: each sharpens into the next, up to the finished one.
            last = len(picture.frames) - 1
            position = ease(look.easing, (p - REVEAL_FADE) / (1 - REVEAL_FADE)) * last
            index = min(int(position), last - 1)
            self._layer(canvas, picture, index, look, decorate=True)
            self._layer(canvas, picture, index + 1, look, decorate=False, alpha=position - index)
        else:
            if self.current is not None:
                self._layer(canvas, self.current, len(self.current.frames) - 1, look, decorate=True)
            if picture is not None:
                # A reveal begins with the sampler's first, blurriest guess fading in.
                index, fade = (0, p / REVEAL_FADE) if revealing else (len(picture.frames) - 1, p)
                self._fade_in(canvas, picture, index, ease(look.easing, fade), look)
        if look.black > 0:
            canvas.darken(look.black)

    # ---- internals ------------------------------------------------------------------------------------

    def _morph(self) -> list[tuple[Picture, int]]:
        """The pictures a morph blends through (the postcard going, the in-betweens, the one coming), or []
        when the incoming postcard has no in-betweens from the one on screen."""
        picture, current = self.incoming, self.current
        if (picture is None or current is None or len(picture.frames) < 2
                or picture.postcard.morph_from != current.postcard.seed or picture.size != current.size):
            return []
        return [(current, len(current.frames) - 1)] + [(picture, i) for i in range(len(picture.frames))]

    def _finish(self) -> None:
        if self.current is not None:
            self.current.release()
        self.current, self.incoming = self.incoming, None
        self.current.forget_previews()

    def _fade_in(self, canvas, picture: Picture, index: int, alpha: float, look: Look) -> None:
        if self.current is not None and self.current.size == picture.size:
            # Same footprint as the postcard going out: only the picture itself needs to fade (one blit).
            self._layer(canvas, picture, index, look, decorate=False, alpha=alpha)
            return
        # Different footprints (or out of black): compose the whole new layer, then fade it in.
        canvas.begin_layer()
        self._layer(canvas, picture, index, look, decorate=True)
        canvas.end_layer(alpha)

    def _layer(self, canvas, picture: Picture, index: int, look: Look, decorate: bool, alpha: float = 1.0) -> None:
        placement = place(picture.size, canvas.size, look.frame, look.drift, zoom_step(look.zoom))
        if decorate and placement.card is not None:
            canvas.card(placement.card)
        pan = picture.pan(placement, self.drift_span)
        canvas.picture(picture, index, placement, pan, alpha)
        if index == len(picture.frames) - 1:
            for mode in retracing(picture, look):  # the retraced picture over the finished one, like a crossfade
                canvas.picture(picture, mode, placement, pan, alpha * look.retrace)


def retracing(picture: Picture, look: Look) -> tuple[str, ...]:
    """The retraced picture to draw over `picture`'s finished one this frame: (mode,) or ()."""
    return (look.retrace_mode,) if look.retrace > 0 and look.retrace_mode in picture.retraced else ()
