"""The perform loop: frames change as postcards arrive (headless and in a real X window), offline frames
are the same for the same seed, the job runs from the CLI and stops on time, the full show plays sound."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pygame
import pytest
from PIL import Image

from engine.cli import main
from engine.settings.config import load_config
from engine.perform.live import Live
from engine.perform.offline import offline

from conftest import WAIT, write_config
from control_helpers import free_port

def digest(surface) -> str:
    return hashlib.sha1(pygame.image.tobytes(surface, "RGB")).hexdigest()


def play(live: Live, seconds: float, until_postcards: int = 3) -> list[str]:
    """Frames on the real clock until `until_postcards` were shown and `seconds` passed since the first."""
    frames, start, shown, first = [], time.monotonic(), 0, None
    renderer = live.performance.renderer
    while time.monotonic() - start < WAIT:
        now = time.monotonic()
        before = renderer.incoming
        surface = live.frame(now)
        if surface is None:  # the sdl2 renderer: the frame is on the graphics card
            surface = live.window.canvas.to_surface()
        shown += renderer.incoming is not None and renderer.incoming is not before
        if shown:  # from the first postcard on (before it, the screen is black while the worker starts)
            frames.append(digest(surface))
        live.present()
        first = first if first is not None or not shown else now
        if shown >= until_postcards and now - first >= seconds:
            break
        time.sleep(1 / 30)
    assert shown >= until_postcards, f"{shown} postcards shown in {WAIT} s; sampler {live.sampler.stats}"
    return frames


@pytest.mark.parametrize("driver, renderer", [("dummy", "surface"), pytest.param("x11", "surface", marks=pytest.mark.display),
                                              pytest.param("x11", "sdl2", marks=pytest.mark.display)])
def test_the_show_runs_and_frames_change_and_obeys_osc(tmp_path, tiny_model, monkeypatch, driver, renderer):
    port = free_port()
    config = load_config(write_config(tmp_path, tiny_model, osc=f"enabled = true\nport = {port}"))
    config = replace(config, display=replace(config.display, renderer=renderer))
    if driver == "x11":
        monkeypatch.setenv("SDL_VIDEODRIVER", "x11")
    else:
        config = replace(config, display=replace(config.display, headless=True))
    live = Live(config, audio=False)
    live.start()
    try:
        assert pygame.display.get_driver() == driver
        live.show.report("/display/overlay", True)
        frames = play(live, 2.0)
        assert len(set(frames)) > len(frames) // 3  # crossfades and drift: most frames differ
        assert live.sampler.stats["made"] >= 3
        assert any(f"OSC 127.0.0.1:{port}" in line for line in live.performance.status_lines())
        from pythonosc.udp_client import SimpleUDPClient
        SimpleUDPClient("127.0.0.1", port).send_message("/scene/load", "still")
        end = time.monotonic() + 10
        while live.show.scene.name != "still" and time.monotonic() < end:
            live.frame(time.monotonic())
            time.sleep(0.02)
        assert live.show.scene.name == "still"
        assert live.sampler.recipe.steps == 3  # the sampler follows the new scene
    finally:
        live.stop()


def render_offline(config, seed, frames=24, fps=8):
    with offline(config, size=(96, 54), seed=seed) as performance:
        return [digest(performance.frame(i / fps)) for i in range(frames)]


def test_offline_frames_are_the_same_for_the_same_seed(tmp_path, tiny_model):
    config = load_config(write_config(tmp_path, tiny_model))
    first, again, other = render_offline(config, 7), render_offline(config, 7), render_offline(config, 8)
    assert first == again
    assert first != other
    assert len(set(first)) > 12  # 3 s of crossfades and drift


def test_perform_job_runs_headless_for_its_duration(tmp_path, tiny_model, capsys):
    config = write_config(tmp_path, tiny_model)
    start = time.monotonic()
    assert main(["--config", str(config), "perform", "--headless", "--duration", "3", "--scene", "still"]) == 0
    assert 3.0 <= time.monotonic() - start < WAIT


def test_sigterm_ends_the_show_cleanly_after_a_heartbeat(tmp_path, tiny_model):
    config = write_config(tmp_path, tiny_model)
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "PYTHONUNBUFFERED": "1"}
    show = subprocess.Popen([sys.executable, "-m", "engine", "--config", str(config), "perform", "--headless"],
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        for line in show.stderr:  # the heartbeat comes with the first frame
            if "alive:" in line:
                assert "scene tiny" in line and "open files" in line
                break
        show.send_signal(signal.SIGTERM)
        assert show.wait(timeout=30) == 0
    finally:
        if show.poll() is None:
            show.kill()
            show.wait()


def test_demo_without_a_display_runs_headless_and_records_demo_mp4(tmp_path, tiny_model, monkeypatch, capsys):
    import av

    config = write_config(tmp_path, tiny_model)
    model = tmp_path / "models" / "default"
    shutil.copytree(tiny_model, model)
    (model / "samples").mkdir()
    Image.new("RGB", (32, 32), (40, 160, 60)).save(model / "samples" / "postcard_000.png")
    (tmp_path / "scenes" / "tiny.toml").write_text('[visual]\nsteps = 3\nhold = 0.5\ncrossfade = 0.5\n')
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["--config", str(config), "perform", "--demo", "--duration", "4"]) == 0
    out = capsys.readouterr().out
    movie = tmp_path / "demo.mp4"
    assert "headless" in out and str(movie) in out
    with av.open(str(movie)) as container:
        decoded = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert len(decoded) >= 30  # recording.fps = 30: most of 4 s
    first = decoded[0]
    h, w = first.shape[:2]
    assert abs(first[h // 2, w // 2].astype(int) - (40, 160, 60)).max() < 24  # the model's sample, from frame 0


def test_bad_inputs_are_clear_errors(tmp_path, tiny_model, capsys):
    config = write_config(tmp_path, tiny_model)
    assert main(["--config", str(config), "perform", "--headless", "--scene", "jungle"]) == 2
    assert "--scene" in capsys.readouterr().err
    assert main(["--config", str(config), "perform", "--demo"]) == 2
    err = capsys.readouterr().err
    assert "--demo" in err and "default" in err
    (tmp_path / "scenes" / "lost.toml").write_text('[visual]\nmodel = "nowhere"\n')
    assert main(["--config", str(config), "perform", "--headless", "--scene", "lost"]) == 2
    assert "visual.model" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--config", str(config), "perform", "--size", "big"])


@pytest.mark.jack
def test_the_full_show_plays_sound_without_underruns(tmp_path, tiny_model, caplog):
    config = load_config(write_config(tmp_path, tiny_model, audio='device = "JACK"\nblocksize = 512'))
    config = replace(config, display=replace(config.display, headless=True))
    live = Live(config, controllers=False)
    live.start()
    try:
        play(live, 0.0, until_postcards=2)  # the worker is up and painting: the busy steady state
        assert live.audio is not None  # started behind the first frames, attached by the frame loop
        before = live.audio.stats
        play(live, 5.0, until_postcards=1)
        after = live.audio.stats
    finally:
        live.stop()
    assert after["callbacks"] - before["callbacks"] > 5.0 * 48000 / 512 * 0.9  # paced like hardware
    assert after["underruns"] == before["underruns"], (before, after)
