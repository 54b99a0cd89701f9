"""The scene schedule: which scene is due at a time of day (a fake clock: plain datetimes)."""

from __future__ import annotations

import datetime as dt

from engine.settings.config import ScheduleEntry
from engine.show.schedule import Schedule


def at(hh, mm):
    return dt.datetime(2025, 6, 1, hh, mm)


def test_latest_entry_not_after_now_plays_and_before_the_first_the_last_of_yesterday():
    schedule = Schedule([ScheduleEntry("20:30", "night"), ScheduleEntry("06:00", "dawn"),
                         ScheduleEntry("14:00", "rain")])  # any order in the file
    assert schedule.due(at(0, 0)) == "night"
    assert schedule.due(at(5, 59)) == "night"
    assert schedule.due(at(6, 0)) == "dawn"
    assert schedule.due(at(13, 59)) == "dawn"
    assert schedule.due(at(14, 0)) == "rain"
    assert schedule.due(dt.time(20, 30)) == "night"
    assert schedule.due(at(23, 59)) == "night"


def test_no_schedule_means_nothing_is_due():
    assert not Schedule([]) and Schedule([]).due(at(12, 0)) is None
    one = Schedule([ScheduleEntry("12:00", "rain")])
    assert one and one.due(at(3, 0)) == "rain" == one.due(at(13, 0))
