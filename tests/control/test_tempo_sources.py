"""Tempo from outside: MIDI clock through a real JACK MIDI port, and an Ableton Link peer in a private
network namespace (multicast on lo), each followed by a running Show."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import uuid

import mido
import pytest

from control_helpers import PROJECT, control_config, running_show, wait_for
from engine.control import start_controllers

JACK = "mido.backends.rtmidi/UNIX_JACK"


@pytest.mark.jack
def test_midi_clock_from_a_device_gives_the_tempo_within_one_bpm(tmp_path):
    backend = mido.Backend(JACK, load=True)
    name = f"pc-clock-{uuid.uuid4().hex[:6]}"
    port = backend.open_output(name, virtual=True)
    config = control_config(tmp_path, osc={"enabled": False}, oscquery={"enabled": False},
                            midi={"enabled": True, "backend": JACK, "input": name})
    try:
        with running_show(config) as show:
            controllers = start_controllers(config, show)
            try:
                assert wait_for(lambda: controllers.midi.port is not None)
                port.send(mido.Message("start"))
                period = 60.0 / (128.0 * 24)
                began = time.perf_counter()
                for tick in range(24 * 8):  # 8 beats at 128 BPM, each tick on its own time
                    while time.perf_counter() < began + tick * period:
                        time.sleep(0.0005)
                    port.send(mido.Message("clock"))
                    if tick == 24 * 6:
                        at_beat_six = show.values()["/tempo/beat"]
                assert show.values()["/tempo/source"] == "midi"
                assert show.values()["/tempo/bpm"] == pytest.approx(128.0, abs=1.0)
                assert at_beat_six == pytest.approx(6.0, abs=0.25)
                port.send(mido.Message("stop"))
            finally:
                controllers.stop()
    finally:
        port.close()


LINK_PEER = """
import asyncio, sys, time
sys.path.insert(0, {project!r})
sys.path.insert(0, {tests!r})
from aalink import Link
from control_helpers import control_config, running_show, wait_for
from engine.control import start_controllers
from pathlib import Path

async def main():
    peer = Link(100.0)
    peer.quantum = 4  # Link peers agree on the phase within their quantum, not on the beat count
    peer.enabled = True
    config = control_config(Path({tmp!r}), osc={{"enabled": False}}, oscquery={{"enabled": False}},
                            tempo={{"link": True, "bpm": 120.0}})
    with running_show(config) as show:
        controllers = start_controllers(config, show)
        try:
            await asyncio.sleep(0)
            joined = await asyncio.to_thread(wait_for, lambda: show.values()["/tempo/peers"] >= 1, 10.0)
            print("joined", joined, show.values()["/tempo/bpm"])
            peer.tempo = 137.0
            followed = await asyncio.to_thread(wait_for, lambda: abs(show.values()["/tempo/bpm"] - 137.0) < 0.01, 5.0)
            print("followed", followed, show.values()["/tempo/bpm"], show.values()["/tempo/source"])
            await asyncio.sleep(0.2)
            print("phases", show.values()["/tempo/phase"] - peer.phase)
        finally:
            controllers.stop()
    peer.enabled = False

asyncio.run(main())
"""


def test_a_link_peer_changes_the_tempo_and_the_show_follows(tmp_path):
    pytest.importorskip("aalink", reason="Ableton Link is the optional `link` extra (aalink)")
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare -n is not permitted here: no private network namespace for Link's multicast")
    script = tmp_path / "peer.py"
    script.write_text(LINK_PEER.format(project=str(PROJECT), tests=str(PROJECT / "tests"), tmp=str(tmp_path)))
    setup = "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo"
    result = subprocess.run(["unshare", "-n", "sh", "-c", f"{setup} && exec {sys.executable} {script}"],
                            capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(PROJECT)})
    assert result.returncode == 0, result.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert lines["joined"].startswith("True"), result.stdout
    assert lines["followed"].startswith("True") and lines["followed"].endswith("link"), result.stdout
    apart = float(lines["phases"]) % 4.0
    assert min(apart, 4.0 - apart) < 0.1, result.stdout  # the show's bar is the session's bar


def test_oscquery_serves_the_tempo_and_its_phase_as_they_run(tmp_path):
    import http.client
    import json

    def value(config, path):
        connection = http.client.HTTPConnection("127.0.0.1", config.oscquery.port, timeout=5)
        try:
            connection.request("GET", f"{path}?VALUE")
            return json.loads(connection.getresponse().read())["VALUE"][0]
        finally:
            connection.close()

    config = control_config(tmp_path)
    with running_show(config) as show:
        controllers = start_controllers(config, show)
        try:
            assert value(config, "/tempo/bpm") == 120.0
            first = value(config, "/tempo/phase")
            time.sleep(0.25)                                   # half a beat at 120 BPM
            second = value(config, "/tempo/phase")
            assert 0.0 <= first < 4.0 and 0.0 <= second < 4.0
            assert (second - first) % 4.0 == pytest.approx(0.5, abs=0.3)  # a loaded machine answers late
            assert value(config, "/tempo/source") == "show"
        finally:
            controllers.stop()
