"""The output device (issue 16, class 6), with the real JACK dummy server: a restarted player reopens exactly
the output chosen at start, even when another JACK client whose name contains "jack" has come meanwhile, and
the show says when its output reaches nothing."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import time
from dataclasses import replace

import pytest

from engine.mix.engine import AudioEngine
from engine.settings.config import Config
from engine.settings.scenes import LayerSettings, Scene, SoundSettings

pytestmark = pytest.mark.jack


def wait_for(condition, seconds=30.0):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def connections(port: str) -> list[str]:
    """What a JACK port is connected to, as jack_lsp -c lists it."""
    lines = subprocess.run(["jack_lsp", "-c", port], capture_output=True, text=True, timeout=10).stdout.splitlines()
    return [line.strip() for line in lines[1:] if line.startswith((" ", "\t"))]


class Trap:
    """Another JACK client with two inputs and "jack" in its name: what a substring search for "JACK" finds."""

    def __init__(self):
        self.lib = ctypes.CDLL("libjack.so.0")
        self.lib.jack_client_open.restype = ctypes.c_void_p
        self.lib.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p]
        self.lib.jack_port_register.restype = ctypes.c_void_p
        self.lib.jack_port_register.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                                                ctypes.c_ulong]
        self.lib.jack_activate.argtypes = self.lib.jack_client_close.argtypes = [ctypes.c_void_p]
        self.client = self.lib.jack_client_open(b"jacktrap", 1, None)
        assert self.client
        for name in (b"in_1", b"in_2"):
            self.lib.jack_port_register(self.client, name, b"32 bit float mono audio", 0x1, 0)  # JackPortIsInput
        self.lib.jack_activate(self.client)

    def close(self):
        self.lib.jack_client_close(self.client)


def engine():
    import sounddevice as sd

    layer = LayerSettings(source="rustle", gain=0.8, density=3.0)
    scene = Scene(sound=SoundSettings(master=1.0, fade=0.2, layers={"leaves": layer}), name="leaves")
    audio = replace(Config().audio, device="JACK")
    rate = int(sd.query_devices(sd.query_hostapis(next(i for i, api in enumerate(sd.query_hostapis())
                                                       if "JACK" in api["name"]))["default_output_device"]
                                )["default_samplerate"])
    return AudioEngine(replace(Config(), audio=replace(audio, samplerate=rate)), scene, seed=1)


def test_a_restarted_player_reopens_the_output_chosen_at_start(caplog):
    audio = engine()
    audio.start()
    trap = None
    try:
        assert wait_for(lambda: audio.callbacks > 50)
        first = f"postcards-{audio.player.pid}:out_0"
        assert wait_for(lambda: connections(first)), "PortAudio connected our ports to nothing"
        chosen = connections(first)
        trap = Trap()  # comes while the show plays; before, the player's restart searched "JACK" again
        old = audio.player.pid
        os.kill(old, signal.SIGKILL)
        assert wait_for(lambda: audio.stats["player_restarts"] == 1)
        # The count goes up just before the new process exists: wait for its pid, not the count alone.
        assert wait_for(lambda: audio.player.pid not in (None, old))
        again = f"postcards-{audio.player.pid}:out_0"
        assert wait_for(lambda: audio.callbacks > 50 and connections(again))
        assert connections(again) == chosen and not any("jacktrap" in port for port in connections(again))
    finally:
        audio.stop()
        if trap is not None:
            trap.close()


def test_an_output_that_reaches_nothing_is_reported(caplog):
    audio = engine()
    with caplog.at_level(logging.INFO):
        audio.start()
        try:
            assert wait_for(lambda: audio.callbacks > 50)
            ours = f"postcards-{audio.player.pid}"
            assert wait_for(lambda: connections(f"{ours}:out_0"))
            for port in ("out_0", "out_1"):
                for other in connections(f"{ours}:{port}"):
                    subprocess.run(["jack_disconnect", f"{ours}:{port}", other], check=True, timeout=10)
            assert wait_for(lambda: "reaches no speakers" in caplog.text, seconds=15)
            subprocess.run(["jack_connect", f"{ours}:out_0", "system:playback_1"], check=True, timeout=10)
            assert wait_for(lambda: "connected again" in caplog.text, seconds=15)
        finally:
            audio.stop()
