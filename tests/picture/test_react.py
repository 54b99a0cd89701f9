"""The picture reacting to the sound: mappings with range and curve, and an offline render of rhythmic frogs
whose brightness follows the mix's level (read back from the files it wrote), the same on every run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from engine.perform.offline import render_show
from engine.picture.react import BENDS, React, mapped
from engine.settings.config import load_config
from engine.settings.schema import SettingsError
from engine.settings.scenes import CURVES, load_scene
from record_media import video_frames

FPS = 30
FROGS = """
description = "test: rhythmic frogs; the brightness follows the level"
[visual]
model = "{model}"
scheduler = "ddim"
steps = 2
hold = 100.0
crossfade = 0.0
drift = 0.0
[visual.react.brightness]
source = "level"
low = 0.0
high = 1.0
[sound]
fade = 0.0
master = 1.0
[sound.layers.frogs]
source = "frogs"
gain = 1.0
distance = 0.0
"""


def test_mappings_spread_a_feature_over_the_range_with_a_curve():
    assert mapped(0.5, 0.2, 1.0, "linear") == pytest.approx(0.6)
    assert mapped(0.5, 0.0, 1.0, "square") == pytest.approx(0.25)
    assert mapped(0.25, 0.0, 1.0, "sqrt") == pytest.approx(0.5)
    assert mapped(2.0, 1.0, 0.0, "linear") == 0.0       # above 1 counts as 1; low > high turns it round
    assert tuple(BENDS) == CURVES                       # every curve a scene may name has its bend
    values = {"/react/next/source": "onset", "/react/next/threshold": 0.5, "/audio/onset": 0.0}
    for target in ("brightness", "drift", "zoom", "progress"):
        values[f"/react/{target}/source"] = "off"
    react = React()
    fired = []
    for onset in (0.0, 1.0, 0.8, 0.3, 0.9):
        values["/audio/onset"] = onset
        fired.append(react(values.get).next)
    assert fired == [False, True, False, False, True]   # once per rise past the threshold


def test_a_scene_names_what_a_mapping_may_be(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[visual.react.brightnes]\nsource = "level"\n[visual.react.zoom]\nsource = "onset"\nhigh = 3.0\n')
    with pytest.raises(SettingsError) as e:
        load_scene(bad)
    assert str(e.value).splitlines() == [
        f"{bad}: visual.react.brightnes: expected one of brightness, drift, zoom, progress, next",
        f"{bad}: visual.react.zoom.high: expected a value between 0.0 and 0.5, found 3.0"]
    bad.write_text('[visual.react.zoom]\nsource = "loud"\n')
    with pytest.raises(SettingsError, match="visual.react.zoom.source: expected one of off, level, onset, low, "
                                            "mid, high, found 'loud'"):
        load_scene(bad)


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_model) -> Path:
    root = tmp_path_factory.mktemp("react")
    (root / "scenes").mkdir()
    (root / "scenes" / "frogs.toml").write_text(FROGS.format(model=tiny_model))
    (root / "config.toml").write_text('[recording]\npreset = "ultrafast"\n[paths]\nscenes = "scenes"\n')
    return root


def render(project: Path, name: str, seconds: float):
    out = project / f"{name}.mp4"
    render_show(load_config(project / "config.toml"), scene="frogs", duration=seconds, out=out, size=(96, 64),
                fps=FPS, seed=5, audio_path=out.with_suffix(".wav"), progress=False)
    return out


def wav_level(path: Path) -> np.ndarray:
    """The mix's level per video frame, from the WAV: RMS in dB, -60..0 dB as 0..1."""
    samples, rate = soundfile.read(path, dtype="float64")
    per_frame = rate // FPS
    frames = samples[:len(samples) // per_frame * per_frame].reshape(-1, per_frame, samples.shape[1])
    power = np.mean(frames ** 2, axis=(1, 2)) * 2
    return np.clip((10 * np.log10(np.maximum(power, 1e-12)) + 60) / 60, 0, 1)


def test_an_offline_render_brightens_with_the_frogs_and_is_the_same_every_time(project):
    out = render(project, "frogs", 8.0)
    brightness = np.array([level for _, level in video_frames(out)])
    level = wav_level(out.with_suffix(".wav"))
    assert len(brightness) == len(level) == 8 * FPS
    # Frame i is drawn with the features of the sound up to its time: the sound of frame i - 1.
    r = np.corrcoef(brightness[1:], level[:-1])[0, 1]
    assert r >= 0.8, f"brightness follows the level with r = {r:.3f}"
    assert brightness.max() - brightness.min() > 30      # it visibly moves
    again = np.array([level for _, level in video_frames(render(project, "again", 8.0))])
    assert np.array_equal(brightness, again)


@pytest.mark.jack
def test_live_the_features_of_the_mix_reach_the_show_from_the_tap(tmp_path, tiny_model):
    import time

    from engine.perform.live import Live

    (tmp_path / "scenes").mkdir()
    (tmp_path / "scenes" / "frogs.toml").write_text(FROGS.format(model=tiny_model))
    (tmp_path / "config.toml").write_text(
        '[display]\nsize = [160, 90]\nheadless = true\n[audio]\ndevice = "JACK"\n[osc]\nenabled = false\n'
        '[oscquery]\nenabled = false\n[sampler]\nqueue = 1\ndevice = "cpu"\n[paths]\nscenes = "scenes"\n'
        '[show]\nscene = "frogs"\n[logging]\nfile = ""\n')
    live = Live(load_config(tmp_path / "config.toml"), controllers=False)
    live.start()
    seen = []
    try:
        start = time.monotonic()
        while live.audio is None and time.monotonic() - start < 120:  # the mix starts beside the first frames
            live.frame(time.monotonic())
            time.sleep(1 / 30)
        start = time.monotonic()
        while live.show.get("/audio/level") == 0.0 and time.monotonic() - start < 60:  # the first croaks
            live.frame(time.monotonic())
            time.sleep(1 / 30)
        start = time.monotonic()
        while time.monotonic() - start < 5.0:
            live.frame(time.monotonic())
            seen.append(live.show.values())
            time.sleep(1 / 30)
    finally:
        live.stop()
    levels = [v["/audio/level"] for v in seen]
    assert max(levels) > 0.3 and min(levels[len(levels) // 2:]) < max(levels) - 0.1   # heard, and moving
    assert max(v["/audio/onset"] for v in seen) > 0.5   # a croak's onset, read within a frame or two of it
    assert max(v["/audio/mid"] for v in seen) > 0.2


def test_the_scene_in_docs_music_is_a_valid_scene(tmp_path):
    import re

    from engine.settings.config import PROJECT_ROOT

    doc = (PROJECT_ROOT / "docs" / "music.md").read_text()
    example = re.search(r"```toml\n# scenes/frogs.toml.*?\n(.*?)```", doc, re.S).group(1)
    path = tmp_path / "frogs.toml"
    path.write_text(example)
    scene = load_scene(path)
    assert scene.visual.react["brightness"].source == "level" and scene.visual.quantise == "beat"
