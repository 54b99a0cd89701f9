"""The keyboard, a controller like any other: key presses become Commands for the Show.

    space  next postcard        s  next scene          f  fullscreen on/off
    m      mute on/off          o  status on/off       r  record on/off       esc  quit
    a      retrace the hidden animal on/off (the scene's retrace_mode)
    t      tap the tempo
"""

from __future__ import annotations

from typing import Any

import pygame

from engine.show.controls import Command

ACTIONS = {pygame.K_SPACE: "/visual/next", pygame.K_s: "/scene/next", pygame.K_ESCAPE: "/show/quit",
           pygame.K_t: "/tempo/tap"}
TOGGLES = {pygame.K_f: "/display/fullscreen", pygame.K_m: "/audio/mute", pygame.K_o: "/display/overlay"}


def command_for(event: pygame.event.Event, values: dict[str, Any]) -> Command | None:
    """The Command a pygame event asks for (toggles read the current value), or None."""
    if event.type == pygame.QUIT:
        return Command("/show/quit", (), "window")
    if event.type != pygame.KEYDOWN:
        return None
    if event.key in ACTIONS:
        return Command(ACTIONS[event.key], (), "key")
    if event.key in TOGGLES:
        address = TOGGLES[event.key]
        return Command(address, (not values.get(address, False),), "key")
    if event.key == pygame.K_a:
        return Command("/visual/retrace", (0.0 if values.get("/visual/retrace", 0.0) > 0 else 1.0,), "key")
    if event.key == pygame.K_r:
        return Command("/record/stop" if values.get("/record/active") else "/record/start", (), "key")
    return None


def submit_keys(show) -> int:
    """Drain pygame's event queue into the Show (main thread, once a frame); how many Commands went."""
    sent = 0
    values = None
    for event in pygame.event.get():
        if event.type not in (pygame.QUIT, pygame.KEYDOWN):
            continue
        values = values if values is not None else show.values()
        command = command_for(event, values)
        if command is not None:
            show.submit(command)
            sent += 1
    return sent
