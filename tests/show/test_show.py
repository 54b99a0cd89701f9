"""The Show: Commands from any thread, checked and applied once a frame; scene changes; listeners; timers."""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import threading

import pytest

from engine.settings.config import ScheduleEntry, ShowSettings, load_config
from engine.show.controls import Command
from engine.errors import UserError
from engine.show.state import Show

from conftest import SCENES


@pytest.fixture
def scenes(tmp_path):
    folder = tmp_path / "scenes"
    shutil.copytree(SCENES, folder)
    return folder


@pytest.fixture
def show(scenes):
    return Show(load_config(), scenes, "dawn")


def listen(show):
    heard = []
    show.on("/", lambda address, value, source: heard.append((address, value, source)))
    return heard


def test_commands_apply_on_update_and_reach_listeners(show):
    heard = listen(show)
    show.submit(Command("/visual/hold", (3,), "osc a"))
    assert show.get("/visual/hold") == 8.0  # nothing changes before the frame's update
    show.update(0.0)
    assert show.values()["/visual/hold"] == 3.0
    assert heard == [("/visual/hold", 3.0, "osc a")]
    assert show.stats["applied"] == 1


@pytest.mark.parametrize("address, args", [
    ("/nowhere", ()), ("/visual/black", (5.0,)), ("/visual/hold", ("long",)), ("/scene/name", ("x",)),
    ("/scene/load", ("../config",)), ("/scene/load", ("missing",)), ("/sampler/scheduler", ("dpm",)),
    ("/audio/volume", (1.0,)), ("/audio/layer/birds/pan", (1.0,)), ("/audio/layer/toads/gain", (1.0,)),
])
def test_bad_commands_are_counted_and_logged_never_raised(show, address, args, caplog):
    before = show.values()
    with caplog.at_level(logging.WARNING):
        show.submit(Command(address, args, "osc b"))
        show.update(0.0)
    assert show.stats == {**show.stats, "rejected": 1, "applied": 0}
    assert show.values() == before and show.scene.name == "dawn"
    assert address in caplog.text


def test_a_layer_the_scene_does_not_have_is_named_with_those_it_has(show, caplog):
    with caplog.at_level(logging.WARNING):
        show.submit(Command("/audio/layer/toads/gain", (1.0,), "osc b"))
        show.update(0.0)
    assert f"no layer 'toads' in this scene (layers: {', '.join(show.scene.sound.layers)})" in caplog.text


def test_listeners_hear_only_the_addresses_they_subscribed_to_once_each(show):
    heard = {prefix: [] for prefix in ("/", "/audio/", "/audio/master", "/visual/")}
    for prefix, got in heard.items():
        show.on(prefix, lambda address, value, source, got=got: got.append((address, value)))
    show.submit(Command("/audio/master", (0.5,), "osc a"))
    show.submit(Command("/visual/black", (0.25,), "osc a"))
    show.update(0.0)
    assert heard["/"] == [("/audio/master", 0.5), ("/visual/black", 0.25)]
    assert heard["/audio/"] == heard["/audio/master"] == [("/audio/master", 0.5)]
    assert heard["/visual/"] == [("/visual/black", 0.25)]


def test_submit_from_many_threads_loses_nothing(show):
    def send():
        for _ in range(250):
            show.submit(Command("/visual/drift", (0.1,), "thread"))
    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    show.update(0.0)
    assert show.stats["applied"] == 1000


def test_scene_change_resets_scene_values_keeps_lasting_ones_and_swaps_the_address_table(show):
    heard = listen(show)
    show.submit(Command("/audio/master", (0.3,)))
    show.submit(Command("/visual/hold", (2.0,)))
    show.submit(Command("/scene/load", ("night",), "key"))
    show.update(0.0)
    assert show.scene.name == "night"
    values = show.values()
    assert values["/audio/master"] == 0.3 and values["/visual/hold"] == 14.0 and values["/visual/black"] == 0.35
    assert "/audio/layer/owls/gain" in show.controls() and "/audio/layer/birds/gain" not in show.controls()
    names = [a for a, _, _ in heard]
    assert names.index("/scene/name") < names.index("/visual/black")
    show.submit(Command("/scene/next"))
    show.update(0.1)
    assert show.scene.name == "rain"
    show.submit(Command("/scene/next"))
    show.update(0.2)
    assert show.scene.name == "dawn"  # wraps around, alphabetically
    show.submit(Command("/scene/previous"))
    show.update(0.3)
    assert show.scene.name == "rain"


def test_state_reannounces_every_value_to_the_asker(show):
    heard = listen(show)
    show.submit(Command("/state", (), "osc 127.0.0.1:5000"))
    show.update(0.0)
    assert {a for a, _, _ in heard} == set(show.values())
    assert {s for _, _, s in heard} == {"osc 127.0.0.1:5000"}


def test_a_failing_listener_is_logged_and_the_others_still_hear(show, caplog):
    show.on("/", lambda *a: 1 / 0)
    heard = listen(show)
    with caplog.at_level(logging.WARNING):
        show.submit(Command("/visual/next"))
        show.update(0.0)
    assert heard == [("/visual/next", None, "")] and "ZeroDivisionError" in caplog.text


def test_hold_timer_and_freeze(show):
    assert show.next_wanted  # the first postcard comes as soon as there is one
    show.postcard_shown(10.0)
    show.update(10.0 + 3.0 + 7.9)  # crossfade 3 + hold 8 not over yet
    assert not show.next_wanted
    show.update(10.0 + 3.0 + 8.0)
    assert show.next_wanted
    show.postcard_shown(30.0)
    show.submit(Command("/visual/freeze", (1,)))
    show.update(100.0)
    assert not show.next_wanted
    show.submit(Command("/visual/next"))
    show.update(100.1)
    assert show.next_wanted  # a performer's explicit next still works while frozen


def test_seeds_count_on(show):
    show.submit(Command("/sampler/seed", (41,)))
    show.update(0.0)
    assert [show.take_seed() for _ in range(3)] == [41, 42, 43]


def reload(show, now: float) -> None:
    """The files are read on the watch's thread: one update starts a look, a later one applies what it found."""
    for second in range(3):
        show.update(now + second)
        show._watch.join()


def test_hot_reload_good_and_broken(show, scenes, caplog):
    path = scenes / "dawn.toml"
    reload(show, 0.0)
    path.write_text(path.read_text().replace("hold = 8.0", "hold = 5.0"))
    os.utime(path, ns=(1, 10**18))  # a distinct mtime even on coarse file systems
    reload(show, 10.0)
    assert show.scene.visual.hold == 5.0 and show.get("/visual/hold") == 5.0
    path.write_text(path.read_text().replace("hold = 5.0", "hold = -2"))
    with caplog.at_level(logging.WARNING):
        reload(show, 20.0)
    assert show.scene.visual.hold == 5.0 and show.stats["reload_errors"] == 1
    assert "dawn.toml" in caplog.text and "visual.hold" in caplog.text and "keeps playing" in caplog.text


def test_schedule_changes_scene_at_its_times_on_a_fake_clock(scenes):
    from dataclasses import replace
    config = load_config()
    config = replace(config, show=ShowSettings(schedule=[ScheduleEntry("06:00", "dawn"), ScheduleEntry("20:30", "night")]))
    clock = [dt.datetime(2025, 1, 1, 5, 59)]
    show = Show(config, scenes, wall_clock=lambda: clock[0])
    assert show.scene.name == "night"  # before 06:00 last night's scene still plays
    clock[0] = dt.datetime(2025, 1, 1, 6, 0)
    show.update(0.0)
    assert show.scene.name == "dawn"
    show.submit(Command("/scene/load", ("rain",)))
    show.update(5.0)
    clock[0] = dt.datetime(2025, 1, 1, 12, 0)
    show.update(10.0)
    assert show.scene.name == "rain"  # a manual change lasts until the next scheduled time
    clock[0] = dt.datetime(2025, 1, 1, 20, 30)
    show.update(15.0)
    assert show.scene.name == "night"


def test_unknown_start_scene_is_a_user_error(scenes):
    with pytest.raises(UserError, match="scene"):
        Show(load_config(), scenes, "jungle-disco")


def test_an_offline_show_ignores_the_schedule(scenes):
    from dataclasses import replace
    config = load_config()
    config = replace(config, show=ShowSettings(scene="rain", schedule=[ScheduleEntry("06:00", "dawn")]))
    show = Show(config, scenes, use_schedule=False, wall_clock=lambda: dt.datetime(2025, 1, 1, 7, 0))
    show.update(0.0)
    show.update(100.0)
    assert show.scene.name == "rain"
