"""The control vocabulary: every address a performer can reach, and the Command that carries a change.

Controllers (OSC, MIDI, keyboard, tests) all speak this vocabulary and nothing else: they turn their input
into `Command(address, args)` and hand it to the Show, which checks it with `coerce` and applies it once per
frame. OSCQuery serves the same table, so what is documented, discoverable and accepted is one list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from engine.postcards.retrace import MODES as RETRACE_MODES
from engine.postcards.schedulers import SCHEDULERS
from engine.settings.scenes import CURVES, FEATURES, QUANTISE, REACT_TARGETS, TRIGGER
from engine.show.tempo import MAX_BPM, MIN_BPM


@dataclass(frozen=True)
class Command:
    address: str
    args: tuple = ()
    source: str = ""  # who sent it ("osc 127.0.0.1:50000", "midi", "key"): for feedback and logs


@dataclass(frozen=True)
class Control:
    """One address. kind: 'f' float, 'i' int, 's' string, 'b' on/off, '' action (no value)."""
    address: str
    kind: str
    description: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    access: str = "rw"  # OSCQuery ACCESS: 'r', 'w' or 'rw'; actions are 'w'


class CommandError(ValueError):
    pass


def _static() -> list[Control]:
    return [
        Control("/scene/load", "s", "load a scene by name", access="w"),
        Control("/scene/next", "", "next scene (alphabetical)", access="w"),
        Control("/scene/previous", "", "previous scene", access="w"),
        Control("/scene/name", "s", "the scene now playing", access="r"),
        Control("/visual/next", "", "bring in the next postcard now", access="w"),
        Control("/visual/hold", "f", "seconds a postcard holds", 0.1, 3600.0),
        Control("/visual/crossfade", "f", "seconds a crossfade takes", 0.0, 600.0),
        Control("/visual/freeze", "b", "1 = keep the current postcard"),
        Control("/visual/black", "f", "fade to black: 0 picture, 1 black", 0.0, 1.0),
        Control("/visual/reveal", "b", "1 = new postcards emerge from noise"),
        Control("/visual/drift", "f", "slow zoom/pan amount", 0.0, 0.5),
        Control("/visual/retrace", "f", "retrace the hidden animal: 0 off .. 1 full (models that paint its mask)",
                0.0, 1.0),
        Control("/visual/retrace_mode", "s", "how the animal is retraced", choices=RETRACE_MODES),
        Control("/sampler/steps", "i", "sampler steps per postcard", 1, 1000),
        Control("/sampler/scheduler", "s", "sampler", choices=SCHEDULERS),
        Control("/sampler/seed", "i", "next seed", 0, 2**31 - 1),
        Control("/audio/master", "f", "master gain", 0.0, 2.0),
        Control("/audio/mute", "b", "1 = silence (smoothly)"),
        Control("/record/start", "", "start recording to a new file in the recordings folder", access="w"),
        Control("/record/stop", "", "stop recording", access="w"),
        Control("/record/active", "b", "1 while recording", access="r"),
        Control("/state", "", "ask for every value: each is sent back as feedback", access="w"),
        Control("/midi/learn", "s", "bind the next MIDI CC or note to this address", access="w"),
        # The window and the show itself (keys f, o, esc; reachable from any controller).
        Control("/display/fullscreen", "b", "1 = fullscreen window"),
        Control("/display/overlay", "b", "1 = on-screen status (fps, queue, scene, OSC port, underruns)"),
        Control("/show/quit", "", "end the show (a service manager may start it again)", access="w"),
    ] + _tempo() + _features() + _react()


def _tempo() -> list[Control]:
    return [
        Control("/tempo/bpm", "f", "the tempo in beats a minute", MIN_BPM, MAX_BPM),
        Control("/tempo/tap", "", "tap the tempo (the beat lands on the tap)", access="w"),
        Control("/tempo/beat", "f", "beats counted since the show began or a MIDI start (Link: this peer's count)",
                access="r"),
        Control("/tempo/phase", "f", "where in the bar: 0 up to the quantum", access="r"),
        Control("/tempo/quantum", "i", "beats in a bar", 1, 16),
        Control("/tempo/quantise", "s", "postcard and scene changes wait for the next beat or bar",
                choices=QUANTISE),
        Control("/tempo/source", "s", "what leads the tempo: show, midi or link", access="r"),
        Control("/tempo/peers", "i", "Ableton Link peers in the session", access="r"),
    ]


def _features() -> list[Control]:
    return [Control(f"/audio/{name}", "f", f"the mix's {name} (0..1)", 0.0, 1.0, access="r") for name in FEATURES]


def _react() -> list[Control]:
    controls = []
    for target, (low, high, _, what) in REACT_TARGETS.items():
        base = f"/react/{target}"
        controls += [
            Control(f"{base}/source", "s", f"the feature of the mix that drives {target} ({what})",
                    choices=("off",) + FEATURES),
            Control(f"{base}/low", "f", f"{target} when the feature is 0", low, high),
            Control(f"{base}/high", "f", f"{target} when the feature is 1", low, high),
            Control(f"{base}/curve", "s", f"how the feature bends on its way to {target}", choices=CURVES),
        ]
    return controls + [
        Control(f"/react/{TRIGGER}/source", "s", "the feature of the mix that brings the next postcard",
                choices=("off",) + FEATURES),
        Control(f"/react/{TRIGGER}/threshold", "f", "the feature's value that brings the next postcard", 0.0, 1.0),
    ]


def _layer(name: str) -> list[Control]:
    base = f"/audio/layer/{name}"
    return [
        Control(f"{base}/gain", "f", f"gain of layer {name}", 0.0, 2.0),
        Control(f"{base}/mute", "b", f"1 = mute layer {name}"),
        Control(f"{base}/density", "f", f"event density of layer {name}", 0.0, 10.0),
    ]


def controls_for(layers: list[str] | tuple[str, ...] = ()) -> dict[str, Control]:
    """Every address for a show whose current scene has these sound layers."""
    table = _static() + [c for name in layers for c in _layer(name)]
    return {c.address: c for c in table}


def coerce(control: Control, args: tuple) -> Any:
    """The value a Command carries for `control`, checked; CommandError says what was expected."""
    if control.access == "r":
        raise CommandError(f"{control.address}: read-only")
    if control.kind == "":
        return None
    if len(args) != 1:
        raise CommandError(f"{control.address}: expected one {_kind_name(control.kind)}, found {len(args)} values")
    (value,) = args
    if control.kind == "s":
        if not isinstance(value, str):
            raise CommandError(f"{control.address}: expected a string, found {value!r}")
        if control.choices is not None and value not in control.choices:
            raise CommandError(f"{control.address}: expected one of {', '.join(control.choices)}, found {value!r}")
        return value
    if control.kind == "b":
        if isinstance(value, bool) or (isinstance(value, (int, float)) and value in (0, 1)):
            return bool(value)
        raise CommandError(f"{control.address}: expected 0/1 or true/false, found {value!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CommandError(f"{control.address}: expected a number, found {value!r}")  # NaN and inf too
    value = int(round(value)) if control.kind == "i" else float(value)
    if (control.low is not None and value < control.low) or (control.high is not None and value > control.high):
        raise CommandError(f"{control.address}: expected {control.low}..{control.high}, found {value}")
    return value


def covered(address: str, entries) -> bool:
    """Whether a list of addresses names `address`: exactly, or by an entry ending in '/' that covers all
    under it ('/record/')."""
    return any(address == entry or (entry.endswith("/") and address.startswith(entry)) for entry in entries)


def _kind_name(kind: str) -> str:
    return {"f": "number", "i": "integer", "s": "string", "b": "0/1"}[kind]
