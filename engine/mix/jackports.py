"""Whether the player's JACK output reaches anything: a stream can run happily into ports nobody listens to
(the client it was connected to left), and the show is then silent without a sign.

PortAudio names its JACK client as we ask before it starts (`name_client`): `postcards-<pid>`, so our ports
are found among everyone's. `Connections` is a JACK client of its own (no ports) that counts the connections
of those ports; the player asks it every few seconds, never from the audio callback. Where there is no JACK
(no libjack, no server) it answers None and nothing is said.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

JACK_NO_START_SERVER = 0x01
JACK_PORT_IS_OUTPUT = 0x02
_names = []  # PortAudio keeps the pointer: the bytes must live as long as the process


def client_name() -> str:
    return f"postcards-{os.getpid()}"


def name_client(portaudio_library: str) -> None:
    """Tell PortAudio (before it initializes) the JACK client name to use."""
    try:
        lib = ctypes.CDLL(portaudio_library)
        name = ctypes.create_string_buffer(client_name().encode())
        _names.append(name)
        lib.PaJack_SetClientName(name)
    except (OSError, AttributeError):
        pass  # a PortAudio without JACK: nothing to name


class Connections:
    def __init__(self):
        self.lib = self.client = None
        try:
            lib = ctypes.CDLL(ctypes.util.find_library("jack") or "libjack.so.0")
        except OSError:
            return
        lib.jack_client_open.restype = ctypes.c_void_p
        lib.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p]
        lib.jack_get_ports.restype = ctypes.POINTER(ctypes.c_char_p)
        lib.jack_get_ports.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong]
        lib.jack_port_by_name.restype = ctypes.c_void_p
        lib.jack_port_by_name.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.jack_port_connected.argtypes = [ctypes.c_void_p]
        lib.jack_free.argtypes = [ctypes.c_void_p]
        lib.jack_client_close.argtypes = [ctypes.c_void_p]
        status = ctypes.c_int()
        client = lib.jack_client_open(f"{client_name()}-watch".encode(), JACK_NO_START_SERVER, ctypes.byref(status))
        if client:
            self.lib, self.client = lib, client

    def of_ours(self) -> int | None:
        """Connections of our output ports (None: no JACK here, or we have no ports there)."""
        if self.client is None:
            return None
        ports = self.lib.jack_get_ports(self.client, f"^{client_name()}:".encode(), None, JACK_PORT_IS_OUTPUT)
        if not ports:
            return None
        try:
            names, i = [], 0
            while ports[i]:
                names.append(ports[i])
                i += 1
            return sum(self.lib.jack_port_connected(self.lib.jack_port_by_name(self.client, name)) for name in names)
        finally:
            self.lib.jack_free(ctypes.cast(ports, ctypes.c_void_p))

    def close(self) -> None:
        if self.client is not None:
            self.lib.jack_client_close(self.client)
            self.client = None
