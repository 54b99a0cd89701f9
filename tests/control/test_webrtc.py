"""The web face's WebRTC: a real headless Chromium and the show's aiortc peer in a private network namespace
(loopback only, with a second address: aioice leaves 127.0.0.1 out). A click on "sound" connects; the page's
video has the picture's size and colour, and its sound is the mix's tone at the level sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from browser import chromium_binary
from conftest import PROJECT, namespace_allowed

pytest.importorskip("aiortc", reason="the `web` extra is not installed (pip install '.[web]')")

HERE = PROJECT / "tests"  # webrtc_loopback.py and the helpers it imports


@pytest.mark.slow
def test_a_browser_gets_the_picture_and_the_sound_over_webrtc():
    chromium_binary()  # skips, with the reason, where Chromium is missing
    if not namespace_allowed():
        pytest.skip("no private network namespace here to test WebRTC in (needs util-linux's unshare, "
                    "iproute2's ip, and root or user namespaces)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    script = f"ip link set lo up && ip addr add 127.0.0.2/8 dev lo && exec {sys.executable} {HERE / 'webrtc_loopback.py'}"
    done = subprocess.run(["unshare", "-n", "sh", "-c", script], env=env, capture_output=True, text=True,
                          timeout=180, cwd=HERE)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["failure"] is None, result
    assert result["size"] == [320, 180]  # picture_width, the canvas's aspect
    assert all(abs(a - b) <= 12 for a, b in zip(result["centre"], (40, 160, 90))), result["centre"]
    assert abs(result["level"] - 0.5) < 0.08, result["level"]  # the 0.5 tone, through Opus
    assert result["played"] > 0.5 * result["wall"]  # the video runs on, in real time
    assert result["mjpeg_hidden"]  # WebRTC took the MJPEG picture's place
