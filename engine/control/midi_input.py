"""MIDI inputs read by polling, never through a callback.

rtmidi runs a callback on JACK's (or ALSA's) own thread, which then has to wait for the GIL. Closing a JACK port
ends that thread with pthread_cancel; cancelled while it waited, it took the GIL's lock with it and the whole
process froze (CI hung so; 2 of 12 runs of the MIDI-clock test). Changing a callback has a twin race:
python-rtmidi frees the old one while that thread may be about to call it. Polled, RtMidi keeps what arrives in
its own queue, in C, and its thread never touches Python.
"""

from __future__ import annotations

from collections.abc import Iterator

import mido

READ_SECONDS = 0.002  # how often an input is read: MIDI arrives within 2 ms, far less than a frame
QUEUE = 4096  # messages RtMidi keeps between two reads (python-rtmidi's default 1024): room for a burst


class RtMidiInput:
    """An rtmidi input port (ALSA, JACK, ...) with mido's iter_pending() and close()."""

    def __init__(self, api: str | None, name: str):
        import rtmidi

        self.name = name
        self._rt = rtmidi.MidiIn(getattr(rtmidi, f"API_{api}") if api else rtmidi.API_UNSPECIFIED,
                                 queue_size_limit=QUEUE)
        try:
            ports = self._rt.get_ports()
            if name not in ports:
                raise OSError(f"unknown port {name!r}")
            self._rt.ignore_types(sysex=False, timing=False, active_sense=True)  # clock in, as mido lets it
            self._rt.open_port(ports.index(name), "postcards in")
        except BaseException:
            self._rt.delete()
            raise

    def iter_pending(self) -> Iterator[mido.Message]:
        while (received := self._rt.get_message()) is not None:
            try:
                yield mido.Message.from_bytes(received[0])
            except ValueError:
                continue  # not a MIDI message: dropped, as mido drops it

    def close(self) -> None:
        self._rt.close_port()
        self._rt.delete()  # the client goes now, not whenever the collector gets to it


def open_input(backend, name: str):
    """Input `name` of a mido backend, to be read with iter_pending(): rtmidi's through RtMidiInput, any other
    backend's (they call back from Python threads of their own) as mido opens it."""
    if backend.name == "mido.backends.rtmidi":
        return RtMidiInput(backend.api, name)
    return backend.open_input(name)
