"""MIDI through mido + python-rtmidi: CCs and notes become Commands; MIDI learn binds new ones.

A CC drives a continuous control over its range (0..127 scaled to low..high), switches an on/off control at
64, fires an action when it rises past 64, or picks one of a control's choices. A note-on fires an action,
toggles an on/off control, sets a number by velocity, or steps through the choices. The bindings come from
[[midi.map]] in config.toml, with the learned ones (paths.state / midi.learn_file) laid over them.

Learn: `/midi/learn /audio/master` (from any controller) arms learn; the next CC or note binds to that
address and the learned file is rewritten. An input that disappears is looked for again every couple of
seconds and reopened when it comes back.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from engine.control.midi_input import READ_SECONDS, open_input
from engine.settings.config import Config, MidiMapping, MidiSettings
from engine.show.controls import Command, Control
from engine.errors import UserError
from engine.logs import RateLimitedLog
from engine.paths import UnsafeNameError, safe_child
from engine.settings.schema import SettingsError, build, read_toml
from engine.show.tempo import MidiClock

log = logging.getLogger(__name__)

CLOCK_MESSAGES = ("clock", "start", "stop", "continue")
POLL_SECONDS = 2.0  # how often the port list is checked for an unplugged or returning device
READ_AT_MOST = 1000  # messages read at once: a flooding device cannot keep the thread from its other work


FALLBACKS = ("", "mido.backends.rtmidi/UNIX_JACK")  # ALSA's sequencer, else JACK's MIDI (no /dev/snd/seq)


def open_backend(name: str):
    """mido's backend by name, loaded now so a wrong name is reported at start. '' = the first that works of
    mido's default (ALSA on Linux) and JACK, so a machine without an ALSA sequencer works as it is."""
    import mido

    problems = []
    for candidate in ([name] if name else FALLBACKS):
        try:
            backend = mido.Backend(candidate or None, load=True)
            backend.get_input_names()
            return backend
        except Exception as e:
            problems.append(f"{candidate or 'the default (ALSA)'}: {' '.join(str(e).split())}")
    raise UserError(f"midi.backend: expected a working mido backend, found none ({'; '.join(problems)}). With "
                    f"JACK running set backend = 'mido.backends.rtmidi/UNIX_JACK' in [midi]; for ALSA load the "
                    f"snd-seq kernel module (`sudo modprobe snd-seq`)")


def choose_port(names: list[str], wanted: str) -> str | None:
    """The input named `wanted`, else the first whose name matches it as a regular expression."""
    if wanted in names:
        return wanted
    pattern = input_pattern(wanted)
    return next((name for name in names if pattern.search(name)), None)


def input_pattern(wanted: str) -> re.Pattern:
    try:
        return re.compile(wanted, re.IGNORECASE)
    except re.error as e:
        raise UserError(f"midi.input: expected a port name or a regular expression, found {wanted!r} ({e})") from None


def describe(message) -> str:
    """One line for people: channel (1-16, as devices print it), type, number, value."""
    if message.type == "control_change":
        return f"ch {message.channel + 1:>2}  cc   {message.control:>3}  value    {message.value:>3}"
    if message.type in ("note_on", "note_off"):
        return f"ch {message.channel + 1:>2}  {message.type:<8} {message.note:>3}  velocity {message.velocity:>3}"
    return str(message)


def _trigger(message) -> tuple[str, int] | None:
    """("cc", number) or ("note", number) for what can be bound; None for the rest (note-off, clock...)."""
    if message.type == "control_change":
        return "cc", message.control
    if message.type == "note_on" and message.velocity > 0:
        return "note", message.note
    return None


def binding_key(m: MidiMapping) -> tuple[str, int, int]:
    return ("cc", m.cc, m.channel) if m.cc >= 0 else ("note", m.note, m.channel)


def mappable(control: Control | None) -> bool:
    return (control is not None and control.access != "r"
            and (control.kind != "s" or control.choices is not None)
            and (control.kind not in ("f", "i") or None not in (control.low, control.high)))


class MidiMap:
    """Bindings (kind, number, channel) -> mapping, and how a message becomes a Command's arguments."""

    def __init__(self, mappings: list[MidiMapping] = ()):
        self.bindings: dict[tuple[str, int, int], MidiMapping] = {}
        self._last_cc: dict[tuple[int, int], int] = {}
        for mapping in mappings:
            self.bind(mapping)

    def bind(self, m: MidiMapping) -> None:
        self.bindings[binding_key(m)] = m

    def mapping_for(self, message) -> MidiMapping | None:
        trigger = _trigger(message)
        if trigger is None:
            return None
        return self.bindings.get((*trigger, message.channel)) or self.bindings.get((*trigger, -1))

    def command_for(self, message, controls: dict[str, Control], values: dict[str, Any]) -> Command | None:
        """The Command this message means, or None (not bound, not mappable, or nothing changes)."""
        mapping = self.mapping_for(message)
        control = controls.get(mapping.address) if mapping else None
        if not mappable(control):
            return None
        if message.type == "control_change":
            key = (message.channel, message.control)
            previous, self._last_cc[key] = self._last_cc.get(key), message.value
            args = _from_cc(control, mapping, message.value, previous)
        else:
            args = _from_note(control, mapping, message.velocity, values.get(mapping.address))
        return None if args is None else Command(mapping.address, args, source="midi")


def _scaled(control: Control, mapping: MidiMapping, amount: int) -> tuple:
    """0..127 over the mapping's low..high (the control's range by default), kept inside the control's range."""
    low = control.low if mapping.low is None else mapping.low
    high = control.high if mapping.high is None else mapping.high
    value = min(control.high, max(control.low, low + amount / 127 * (high - low)))
    return (round(value) if control.kind == "i" else value,)


def _from_cc(control: Control, mapping: MidiMapping, value: int, previous: int | None) -> tuple | None:
    if control.kind in ("f", "i"):
        return _scaled(control, mapping, value)
    if control.kind == "s":
        return (control.choices[min(len(control.choices) - 1, value * len(control.choices) // 128)],)
    crossed = previous is None or (previous >= 64) != (value >= 64)
    if control.kind == "b":
        return (value >= 64,) if crossed else None
    return () if crossed and value >= 64 else None  # an action fires on the way up


def _from_note(control: Control, mapping: MidiMapping, velocity: int, current: Any) -> tuple:
    if control.kind in ("f", "i"):
        return _scaled(control, mapping, velocity)
    if control.kind == "b":
        return (not current,)
    if control.kind == "s":
        here = control.choices.index(current) if current in control.choices else -1
        return (control.choices[(here + 1) % len(control.choices)],)
    return ()


# ---- the learned bindings file --------------------------------------------------------------------------

def learn_path(config: Config) -> Path:
    try:
        return safe_child(config.path("state"), config.midi.learn_file, what="midi.learn_file")
    except UnsafeNameError as e:
        raise UserError(str(e)) from None


def load_learned(path: Path) -> list[MidiMapping]:
    """The bindings MIDI learn saved; a broken file is reported, set aside (.broken) and not used."""
    if not path.exists():
        return []
    try:
        data = read_toml(path)
        mappings = [build(MidiMapping, entry, str(path), f"map[{i}]") for i, entry in enumerate(data.get("map", []))]
        bad = [f"{path}: map[{i}]: expected exactly one of cc or note" for i, m in enumerate(mappings)
               if (m.cc < 0) == (m.note < 0)]
        if bad:
            raise SettingsError(bad)
    except SettingsError as e:
        aside = path.with_name(path.name + ".broken")
        os.replace(path, aside)
        log.error("MIDI learn file not used (moved to %s):\n%s", aside, e)
        return []
    return mappings


def save_learned(path: Path, mappings: list[MidiMapping]) -> None:
    """A tiny flat TOML file, written by hand (no TOML writer needed) and replaced atomically."""
    lines = ["# MIDI learn: bindings made with /midi/learn, laid over [[midi.map]] in config.toml at start.", ""]
    for m in mappings:
        lines += ["[[map]]", f"address = {json.dumps(m.address)}"]
        lines += [f"cc = {m.cc}"] if m.cc >= 0 else [f"note = {m.note}"]
        lines += [f"channel = {m.channel}"]
        lines += [f"{name} = {value!r}" for name, value in (("low", m.low), ("high", m.high)) if value is not None]
        lines += [""]
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text("\n".join(lines), encoding="utf-8")
    os.replace(temporary, path)


# ---- the controller ------------------------------------------------------------------------------------

class MidiController:
    """Opens the configured input (and reopens it when it returns); its thread reads it and submits Commands."""

    def __init__(self, config: Config, show):
        self.settings: MidiSettings = config.midi
        self.show = show
        input_pattern(self.settings.input)  # a bad pattern is reported at start, not mid-show
        self.backend = open_backend(self.settings.backend)
        self.learn_path = learn_path(config)
        self.learned = load_learned(self.learn_path)
        self.map = MidiMap(list(self.settings.map) + self.learned)
        self.stats: dict[str, int] = dict.fromkeys(("received", "forwarded", "ignored", "learned", "connects",
                                                    "clock"), 0)
        # MIDI clock in: the Show reads its tempo and beat once a frame ([tempo] midi_clock).
        self.clock = MidiClock() if config.tempo.midi_clock else None
        self.port = None
        self.port_name: str | None = None
        self._learning: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._problems = RateLimitedLog(log, interval=30.0)
        self._message_errors = RateLimitedLog(log)

    def start(self) -> None:
        self.show.on("/midi/learn", self._arm)
        if self.clock is not None:
            self.show.tempo.add_source("midi", self.clock)
        self._connect()
        self._thread = threading.Thread(target=self._run, name="midi", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._close()
        log.info("MIDI stopped: %s", ", ".join(f"{k} {v}" for k, v in self.stats.items() if v))

    def _run(self) -> None:
        """The MIDI thread: reads the input every READ_SECONDS, looks for its port every POLL_SECONDS (and only
        that while there is no port to read)."""
        look_again = time.monotonic() + POLL_SECONDS
        while not self._stop.wait(READ_SECONDS if self.port is not None else look_again - time.monotonic()):
            if time.monotonic() >= look_again:
                self._connect()
                look_again = time.monotonic() + POLL_SECONDS
            if self.port is not None:
                self._read()

    def _read(self) -> None:
        try:
            for message in itertools.islice(self.port.iter_pending(), READ_AT_MOST):
                self._on_message(message)
        except Exception as e:  # a backend that fails mid-read: opened again once its port is listed again
            self._problems.warning("MIDI input %r cannot be read: %s", self.port_name, e)
            self._close()

    def _connect(self) -> None:
        try:
            names = self.backend.get_input_names()
        except Exception as e:
            self._problems.warning("MIDI ports cannot be listed: %s", e)
            return
        if self.port is not None:
            if self.port_name in names:
                return
            log.warning("MIDI input %r is gone; waiting for it to come back", self.port_name)
            self._close()
        name = choose_port(names, self.settings.input)
        if name is None:
            self._problems.warning("no MIDI input matches midi.input %r (inputs: %s); looking again every %g s",
                                   self.settings.input, ", ".join(names) or "none", POLL_SECONDS)
            return
        try:
            self.port = open_input(self.backend, name)
        except Exception as e:
            self._problems.warning("MIDI input %r cannot be opened: %s", name, e)
            return
        self.port_name = name
        self.stats["connects"] += 1
        log.info("MIDI input %r open", name)

    def _close(self) -> None:
        if self.port is not None:
            try:
                self.port.close()
            except Exception as e:
                log.debug("closing MIDI input: %s", e)
            self.port = None

    # ---- the MIDI thread ----------------------------------------------------------------------------

    def _on_message(self, message) -> None:
        try:
            self.stats["received"] += 1
            if message.type in CLOCK_MESSAGES:
                if self.clock is not None:
                    self.clock.message(message.type, time.monotonic())  # the clock the show's frames run on
                    self.stats["clock"] += 1
                return
            if self._learning is not None and _trigger(message) is not None:
                self._learn(message)
                return
            command = self.map.command_for(message, self.show.controls(), self.show.values())
            if command is None:
                self.stats["ignored"] += 1
                return
            self.show.submit(command)
            self.stats["forwarded"] += 1
        except Exception as e:  # a strange message must never end MIDI input
            self._message_errors.warning("MIDI message %s failed: %s: %s", message, type(e).__name__, e)

    def _learn(self, message) -> None:
        address, self._learning = self._learning, None
        kind, number = _trigger(message)
        mapping = MidiMapping(address=address, channel=message.channel,
                              **({"cc": number} if kind == "cc" else {"note": number}))
        self.map.bind(mapping)
        self.learned = [m for m in self.learned if binding_key(m) != binding_key(mapping)] + [mapping]
        self.stats["learned"] += 1
        log.info("MIDI learn: %s %d on channel %d -> %s", kind, number, message.channel + 1, address)
        try:
            save_learned(self.learn_path, self.learned)
        except OSError as e:
            log.error("MIDI learn: %s not saved (%s); the binding holds until the show ends", self.learn_path, e)

    # ---- the main thread (a Show listener) --------------------------------------------------------

    def _arm(self, address: str, value: Any, source: str) -> None:
        """/midi/learn ADDRESS: the next CC or note binds to ADDRESS."""
        if not mappable(self.show.controls().get(value)):
            self._learning = None  # so `/midi/learn ""` cancels
            if value:
                log.warning("MIDI learn: %r is not an address MIDI can drive (see docs/control.md)", value)
            return
        self._learning = value
        log.info("MIDI learn armed for %s: move a control or play a note", value)
