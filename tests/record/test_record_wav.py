"""The WAV recorder: the mixed sound alone, exactly as the mixer made it."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from engine.record.wav import WavRecorder
from engine.record.writer import RecordingError


def test_blocks_are_written_exactly_and_placed_by_show_time(tmp_path):
    rng = np.random.default_rng(1)
    blocks = [rng.uniform(-1.5, 1.5, (512, 2)).astype(np.float32) for _ in range(10)]
    recorder = WavRecorder(tmp_path / "mix.wav", 48000, start=1.0)
    for i, block in enumerate(blocks):
        recorder.add_audio(block, 1.25 + i * 512 / 48000)  # the sound begins 0.25 s into the recording
    assert recorder.stop() == pytest.approx(0.25 + 5120 / 48000)
    samples, rate = soundfile.read(tmp_path / "mix.wav", dtype="float32")
    assert rate == 48000 and samples.shape == (12000 + 5120, 2)
    assert not samples[:12000].any()
    np.testing.assert_array_equal(samples[12000:], np.concatenate(blocks))  # float: nothing clipped


def test_an_unwritable_path_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(RecordingError, match="x.wav: cannot write the audio recording"):
        WavRecorder(tmp_path / "file" / "x.wav", 48000)
