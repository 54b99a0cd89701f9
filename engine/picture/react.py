"""The picture reacting to the sound: the mix's features mapped onto picture parameters, once a frame.

Each target takes one feature of the mix (/audio/level, /audio/onset, /audio/low, /audio/mid, /audio/high,
each 0..1), bends it with a curve and spreads it over the target's low..high. The mappings are Show values
(`/react/TARGET/source`, `.../low`, `.../high`, `.../curve`), set by the scene's [visual.react.TARGET]
tables and changed live over OSC like any other value. The `next` target is a trigger: the next postcard
comes in when its feature rises past `/react/next/threshold`.

Nothing here keeps time: an offline render, whose features come from the sound it renders, reacts the same
way every time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from engine.settings.scenes import REACT_TARGETS, TRIGGER

# The curves a mapping may name (settings.scenes.CURVES), as functions of 0..1.
BENDS: dict[str, Callable[[float], float]] = {
    "linear": lambda x: x,
    "square": lambda x: x * x,                       # quiet stays quiet, only loud moves it far
    "sqrt": math.sqrt,                               # the quiet parts already move it
    "smooth": lambda x: x * x * (3 - 2 * x),         # gentle at both ends
}


@dataclass(frozen=True)
class Reaction:
    """This frame's picture parameters."""
    brightness: float = 1.0
    drift: float = 1.0
    zoom: float = 0.0
    progress: float = 1.0
    next: bool = False


def mapped(value: float, low: float, high: float, curve: str) -> float:
    return low + BENDS[curve](min(1.0, max(0.0, value))) * (high - low)


class React:
    """Reads the mappings and the features from the Show (`get(address)`), once a frame."""

    def __init__(self):
        self._above = False   # the trigger's feature was past the threshold last frame

    def __call__(self, get: Callable[[str], Any]) -> Reaction:
        params = {}
        for target, (_, _, resting, _) in REACT_TARGETS.items():
            base = f"/react/{target}"
            source = get(f"{base}/source")
            params[target] = resting if source == "off" else mapped(
                get(f"/audio/{source}"), get(f"{base}/low"), get(f"{base}/high"), get(f"{base}/curve"))
        source = get(f"/react/{TRIGGER}/source")
        above = source != "off" and get(f"/audio/{source}") >= get(f"/react/{TRIGGER}/threshold")
        params[TRIGGER], self._above = above and not self._above, above
        return Reaction(**params)
