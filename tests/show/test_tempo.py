"""The beat clock, tap tempo and the MIDI clock parser (the Show's use of them: test_show_tempo.py)."""

from __future__ import annotations

import pytest

from engine.show.tempo import MidiClock, TapTempo, TempoClock


def test_the_clock_counts_beats_and_a_tempo_change_keeps_the_beat():
    clock = TempoClock(120.0, quantum=4)
    assert clock.beat(1.0) == pytest.approx(2.0)
    clock.set_bpm(60.0, now=1.0)
    assert clock.beat(1.0) == pytest.approx(2.0)        # no jump at the change
    assert clock.beat(3.0) == pytest.approx(4.0)        # then one beat a second
    assert clock.phase(3.5) == pytest.approx(0.5)       # beat 4.5 is half a beat into the second bar
    clock.align(10.0, now=3.0)
    assert clock.beat(4.0) == pytest.approx(11.0)
    with pytest.raises(ValueError, match="20..300 BPM"):
        clock.set_bpm(0.0, now=4.0)


def test_the_next_boundary_is_the_next_beat_or_bar():
    clock = TempoClock(120.0, quantum=4)
    assert clock.next_boundary(0.7, "beat") == 2.0       # beat 1.4 -> 2
    assert clock.next_boundary(0.7, "bar") == 4.0
    assert clock.next_boundary(2.0, "bar") == 8.0        # on a bar: the next one
    assert clock.next_boundary(0.7, "off") == pytest.approx(1.4)


def test_tap_tempo_averages_the_taps_and_a_pause_starts_over():
    tap = TapTempo()
    assert tap.tap(10.0) is None
    assert tap.tap(10.5) == pytest.approx(120.0)
    assert tap.tap(11.02) == pytest.approx(60 * 2 / 1.02)
    assert tap.tap(20.0) is None                          # a long pause: a new count
    for t in (20.4, 20.8, 21.2):
        bpm = tap.tap(t)
    assert bpm == pytest.approx(150.0)


def test_midi_clock_gives_tempo_beats_and_follows_start_stop():
    clock = MidiClock()
    assert clock.read(0.0) is None
    period = 60.0 / (128.0 * 24)
    clock.message("start", 0.0)
    for i in range(96):
        clock.message("clock", i * period)
    bpm, beat = clock.read(95 * period)
    assert bpm == pytest.approx(128.0)
    assert beat == pytest.approx(96 / 24)
    clock.message("stop", 95 * period)
    assert clock.read(95 * period)[1] is None             # stopped: the tempo stays, no beat
    assert clock.read(95 * period + 2.0) is None          # no ticks for a while: no clock at all
