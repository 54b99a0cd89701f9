"""The scene schedule of an installation: which scene plays at which time of day ([show.schedule]).

The latest entry whose time is not after now plays; before the day's first entry, yesterday's last one
still plays. The Show asks `due(now)` about once a second and changes scene only when the answer changes,
so a performer's manual scene change lasts until the next scheduled time.
"""

from __future__ import annotations

import datetime as dt

from engine.settings.config import ScheduleEntry


def _minutes(at: str) -> int:
    hours, _, minutes = at.partition(":")
    return int(hours) * 60 + int(minutes)


class Schedule:
    def __init__(self, entries: list[ScheduleEntry] | tuple[ScheduleEntry, ...]):
        # (minute of day, scene), sorted; config validation already checked every `at`.
        self.entries = sorted((_minutes(e.at), e.scene) for e in entries)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def due(self, now: dt.datetime | dt.time) -> str | None:
        """The scene that should be playing at local time `now`, or None without a schedule."""
        if not self.entries:
            return None
        minute = now.hour * 60 + now.minute
        scene = self.entries[-1][1]  # before the first entry: the last one of the day before
        for at, name in self.entries:
            if at <= minute:
                scene = name
        return scene
