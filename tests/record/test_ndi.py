"""NDI out with a real NDI receiver (cyndilib's), sender and receiver in a private network namespace that only
has loopback: frames arrive at the canvas's size and frame rate with the colours drawn, the mix arrives at the
show's rate in stereo, and the sender never held a frame back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from conftest import PROJECT, namespace_allowed, write_config

pytest.importorskip("cyndilib", reason="the `ndi` extra is not installed (pip install '.[ndi]')")

HERE = PROJECT / "tests"  # ndi_loopback.py and the helpers it imports


@pytest.mark.slow
def test_a_real_receiver_takes_the_canvas_and_the_mix(tmp_path):
    if not namespace_allowed():
        pytest.skip("no private network namespace here to test NDI in (needs util-linux's unshare, "
                    "iproute2's ip, and root or user namespaces)")
    config_dir = tmp_path / ".ndi"
    config_dir.mkdir()
    (config_dir / "ndi-config.v1.json").write_text('{"ndi": {"networks": {"ips": "127.0.0.1"}}}')
    env = {**os.environ, "HOME": str(tmp_path), "NDI_CONFIG_DIR": str(config_dir),
           "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    script = f"ip link set lo up && exec {sys.executable} {HERE / 'ndi_loopback.py'}"
    done = subprocess.run(["unshare", "-n", "sh", "-c", script], env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert any("Postcards loopback" in name for name in result["sources"])
    assert result["frames"] >= 10, result
    assert {tuple(size) for size in result["sizes"]} == {(320, 180)}
    assert {tuple(rate) for rate in result["rates"]} == {(30, 1)}
    # The colour drawn (R changes each frame, G 90, B 200) survives NDI's lossy codec within a few steps.
    assert all(abs(g - 90) <= 8 and abs(b - 200) <= 16 for _, g, b in result["colours"]), result["colours"]
    assert len({r for r, _, _ in result["colours"]}) > 5  # new frames, not one frame repeated
    assert result["audio_frames"] >= 20 and set(result["audio_rates"]) == {48000}
    assert set(result["audio_channels"]) == {2}
    assert abs(result["peak"] - 0.5) < 0.05  # the 0.5 tone, as sent
    assert result["stats"]["errors"] == 0 and result["stats"]["audio_dropped"] == 0


def test_the_show_hands_every_frame_it_draws_to_ndi_when_enabled(tmp_path, tiny_model, monkeypatch):
    from dataclasses import replace

    from control_helpers import wait_for
    from engine.perform.live import Live
    from engine.settings.config import load_config

    config_dir = tmp_path / ".ndi"
    config_dir.mkdir()
    (config_dir / "ndi-config.v1.json").write_text('{"ndi": {"networks": {"ips": "127.0.0.1"}}}')
    monkeypatch.setenv("NDI_CONFIG_DIR", str(config_dir))  # NDI announces to loopback only
    config = load_config(write_config(tmp_path, tiny_model))
    config = replace(config, display=replace(config.display, headless=True),
                     ndi=replace(config.ndi, enabled=True, name="Postcards wiring"))
    live = Live(config, audio=False, controllers=False)
    live.start()
    try:
        assert live.ndi in live.performance.outputs
        stats, handoff = live.ndi.stats, live.ndi.handoff.stats
        for _ in range(40):
            live.frame(time.monotonic())
            live.present()
            time.sleep(1 / 30)
        drawn = live.performance.frames
        assert handoff["offered"] == drawn  # every frame drawn went to NDI's slot (or was counted as dropped)
        assert wait_for(lambda: stats["frames_sent"] + handoff["dropped"] == drawn)
        assert stats["frames_sent"] >= 30 and stats["errors"] == 0
        assert live.ndi._size == config.display.size  # sent at the canvas's size
    finally:
        live.stop()


def test_a_mix_at_another_rate_is_resampled_to_the_senders():
    """The mix's rate is known only once it runs, after the sender opened at the configured one: a 440 Hz tone
    at 44.1 kHz leaves as 440 Hz at 48 kHz, in blocks of the size that came in, at the same level."""
    import numpy as np

    from engine.record.ndi import NdiOutput

    output = NdiOutput("Postcards resampling", 30, 48000)  # not started: no sender, only its audio path
    output.samplerate = 44100
    sent = []
    for i in range(100):
        t = (i * 512 + np.arange(512)) / 44100
        tone = np.stack([0.5 * np.sin(2 * np.pi * 440 * t)] * 2).astype(np.float32)
        sent += output._at_sender_rate(tone)
    assert {block.shape for block in sent} == {(2, 512)} and all(b.dtype == np.float32 for b in sent)
    sound = np.concatenate(sent, axis=1)[0, 4800:]  # past the resampler's start-up
    assert abs(sound.shape[0] + 4800 - 100 * 512 * 48000 / 44100) < 1024  # 48000 samples a second now
    spectrum = np.abs(np.fft.rfft(sound * np.hanning(len(sound))))
    assert abs(np.argmax(spectrum) * 48000 / len(sound) - 440) < 2
    assert abs(np.abs(sound).max() - 0.5) < 0.01
