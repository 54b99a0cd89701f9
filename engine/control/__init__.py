"""The control surface: OSC (with feedback), OSCQuery discovery (with LISTEN), MIDI (with learn and clock), the
web face and Ableton Link (tempo), all feeding the Show.

The perform loop calls `start_controllers(config, show)` once and `.stop()` at the end. Controllers only ever
`submit()` Commands; what they send back (OSC feedback) comes from Show listeners. See docs/control.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from engine.settings.config import Config

log = logging.getLogger(__name__)


@dataclass
class Controllers:
    osc: object | None = None        # engine.control.osc.OscServer
    oscquery: object | None = None   # engine.control.oscquery.OscQueryServer
    midi: object | None = None       # engine.control.midi.MidiController
    web: object | None = None        # engine.control.web.WebFace
    link: object | None = None       # engine.control.link.LinkSession

    def __iter__(self):
        """The running controllers (each has .stop(); OscServer, OscQueryServer and WebFace have .address)."""
        return iter([c for c in (self.osc, self.oscquery, self.midi, self.web, self.link) if c is not None])

    def stop(self) -> None:
        for controller in reversed(list(self)):
            try:
                controller.stop()
            except Exception:  # stopping one must not leave the others running
                log.exception("stopping %s", type(controller).__name__)


def start_controllers(config: Config, show) -> Controllers:
    """Start what config enables; UserError (and nothing left running) if one cannot start."""
    from engine.control.midi import MidiController
    from engine.control.osc import OscServer

    controllers = Controllers()
    try:
        if config.osc.enabled:
            controllers.osc = OscServer(config.osc, show)
            controllers.osc.start()
            if config.oscquery.enabled:
                from engine.control.oscquery import OscQueryServer  # aiohttp: ~0.2 s, only when served

                controllers.oscquery = OscQueryServer(config, show, osc_port=controllers.osc.address[1])
                controllers.oscquery.start()
        elif config.oscquery.enabled:
            log.info("OSCQuery not served: it describes the OSC server, and osc.enabled is false")
        if config.midi.enabled:
            controllers.midi = MidiController(config, show)
            controllers.midi.start()
        if config.tempo.link:
            from engine.control.link import LinkSession  # GPL, an optional extra: imported only when asked

            controllers.link = LinkSession(config.tempo.bpm, config.tempo.quantum)
            controllers.link.start()
            show.tempo.add_source("link", controllers.link)
        if config.web.enabled:
            from engine.control.web import WebFace

            controllers.web = WebFace(config, show)
            controllers.web.start()
    except BaseException:
        controllers.stop()
        raise
    return controllers

