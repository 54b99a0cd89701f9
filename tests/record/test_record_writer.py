"""The background writer's pieces: where audio blocks land, and failures that stop a file, not the show."""

from __future__ import annotations

import logging

import numpy as np

from engine.record.writer import BackgroundWriter, place_audio

BLOCK = np.ones((100, 2), np.float32)


def test_the_first_block_lands_at_its_show_time():
    padded = place_audio(BLOCK, t=1.01, start=1.0, samplerate=1000, written=0, slack=5)
    assert len(padded) == 110 and not padded[:10].any() and padded[10:].all()
    trimmed = place_audio(BLOCK, t=0.97, start=1.0, samplerate=1000, written=0, slack=5)
    assert len(trimmed) == 70


def test_small_clock_jitter_is_ignored_and_a_real_gap_is_followed():
    assert len(place_audio(BLOCK, t=1.104, start=1.0, samplerate=1000, written=100, slack=5)) == 100
    gap = place_audio(BLOCK, t=1.2, start=1.0, samplerate=1000, written=100, slack=5)
    assert len(gap) == 200 and not gap[:100].any()
    overlap = place_audio(BLOCK, t=1.05, start=1.0, samplerate=1000, written=100, slack=5)
    assert len(overlap) == 50


class Failing(BackgroundWriter):
    kind = "test file"

    def __init__(self, path):
        super().__init__(path)
        self.written, self.finished = [], False
        self._start()

    def _write(self, item):
        if item == "boom":
            raise OSError(28, "No space left on device")
        self.written.append(item)

    def _finish(self):
        self.finished = True


def test_a_write_failure_stops_the_file_logs_once_and_never_raises(tmp_path, caplog):
    writer = Failing(tmp_path / "f")
    with caplog.at_level(logging.ERROR):
        for item in ("a", "boom", "b"):
            writer._submit(item)
        writer.stop()
    assert writer.written == ["a"] and writer.finished and not writer.active
    assert writer.error == f"{tmp_path / 'f'}: test file stopped: No space left on device"
    assert caplog.text.count("No space left on device") == 1
    assert writer._submit("c") is False
