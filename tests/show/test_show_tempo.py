"""The Show's tempo: /tempo/bpm, tap tempo, beat and phase as values, and changes quantised to the beat or
the bar (a change requested mid-bar happens on the bar), on exact frame times."""

from __future__ import annotations

import shutil

import pytest

from engine.settings.config import load_config
from engine.show.controls import Command
from engine.show.state import Show

from conftest import SCENES

FPS = 30


@pytest.fixture
def show(tmp_path):
    folder = tmp_path / "scenes"
    shutil.copytree(SCENES, folder)
    return Show(load_config(), folder, "dawn")


def run_until(show, start: float, end: float, watch=None):
    """Frames at exact times i / FPS in [start, end); `watch(now)` after each update."""
    for i in range(round(start * FPS), round(end * FPS)):
        show.update(i / FPS)
        if watch is not None:
            watch(i / FPS)


def test_bpm_beat_and_phase_are_values_and_bpm_changes_keep_the_beat(show):
    show.submit(Command("/tempo/bpm", (120.0,)))
    run_until(show, 0.0, 1.0)
    assert show.get("/tempo/bpm") == 120.0
    assert show.get("/tempo/beat") == pytest.approx(29 / FPS * 2)   # the last frame, 29/30 s, at 2 beats a second
    assert show.get("/tempo/phase") == pytest.approx(29 / FPS * 2)
    show.submit(Command("/tempo/bpm", (60.0,)))
    run_until(show, 1.0, 2.0)
    assert show.get("/tempo/beat") == pytest.approx(2.0 + 29 / FPS)  # from beat 2 at 1 s, one beat a second


def test_tap_tempo_sets_the_tempo_and_puts_the_beat_on_the_tap(show):
    for i, at in enumerate((1.0, 1.4, 1.8, 2.2)):
        run_until(show, at - 1 / FPS if i else 0.0, at)
        show.submit(Command("/tempo/tap"))
        run_until(show, at, at + 1 / FPS)
    assert show.get("/tempo/bpm") == pytest.approx(150.0, abs=0.1)
    assert show.get("/tempo/beat") % 1.0 == pytest.approx(0.0, abs=1e-6)  # the frame of the last tap is on a beat


def test_a_scene_change_requested_mid_bar_happens_on_the_bar(show):
    show.submit(Command("/tempo/bpm", (120.0,)))      # a bar of 4 beats: 2 s
    show.submit(Command("/tempo/quantise", ("bar",)))
    run_until(show, 0.0, 0.7)
    show.submit(Command("/scene/load", ("night",)))   # at 0.7 s, beat 1.4: mid-bar
    changed = []
    run_until(show, 0.7, 3.0, lambda now: changed.append(now) if show.scene.name == "night" and not changed else None)
    assert changed == [pytest.approx(2.0)]            # the first frame of bar 2


def test_next_postcard_on_the_beat_and_off_means_at_once(show):
    show.submit(Command("/tempo/bpm", (100.0,)))      # a beat every 0.6 s
    show.submit(Command("/tempo/quantise", ("beat",)))
    run_until(show, 0.0, 0.1)
    show.postcard_shown(0.1)
    show.submit(Command("/visual/next"))
    wanted = []
    run_until(show, 0.1, 1.0, lambda now: wanted.append(now) if show.next_wanted and not wanted else None)
    assert wanted == [pytest.approx(0.6)]
    show.postcard_shown(0.6)
    show.submit(Command("/tempo/quantise", ("off",)))
    show.submit(Command("/visual/next"))
    run_until(show, 1.0, 1.0 + 1 / FPS)
    assert show.next_wanted
