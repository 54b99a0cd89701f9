"""Ableton Link: the show joins the Link session on the network and follows its tempo and beat.

Link's library is GPL, so it comes with the optional extra `link` (aalink) and is imported only when
`[tempo] link = true`; the rest of the engine stays MIT. aalink needs a running asyncio loop to make its
Link object in, so the session lives on a small loop thread of its own. The frame loop reads the tempo
and beat once a frame (`read`); a tempo the performer sets (`/tempo/bpm`, tap) goes to the session, so every
peer follows it (`set_bpm`). Peers find each other by multicast on the network's interfaces.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from engine.errors import UserError

log = logging.getLogger(__name__)

START_SECONDS = 5.0


class LinkSession:
    def __init__(self, bpm: float, quantum: int):
        self.bpm, self.quantum = bpm, quantum
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._link = None

    def start(self) -> None:
        try:
            import aalink
        except ImportError:
            raise UserError("tempo.link: Ableton Link needs the optional `link` extra (aalink, GPL): "
                            "pip install 'postcards-jungle[link]'") from None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="link", daemon=True)
        self._thread.start()

        async def join():
            link = aalink.Link(self.bpm)  # made inside the running loop, as aalink asks
            link.quantum = self.quantum
            link.enabled = True
            return link

        self._link = asyncio.run_coroutine_threadsafe(join(), self._loop).result(START_SECONDS)
        log.info("Ableton Link on at %.1f BPM (peers join by multicast)", self.bpm)

    def stop(self) -> None:
        if self._link is not None:
            self._link.enabled = False
            self._link = None
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop.close()
            self._loop = self._thread = None

    @property
    def peers(self) -> int:
        return self._link.num_peers if self._link is not None else 0

    def read(self, now: float) -> tuple[float, float] | None:
        """(bpm, beat) of the session now (`now` is the caller's clock; Link keeps its own)."""
        link = self._link
        return (link.tempo, link.beat) if link is not None else None

    def set_bpm(self, bpm: float) -> None:
        if self._link is not None:
            self._link.tempo = bpm
