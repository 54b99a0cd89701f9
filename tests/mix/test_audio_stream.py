"""The output stream: devices found by name, index or host API; a lost stream is reopened."""

import time
from dataclasses import replace

import pytest

from engine.mix.stream import StreamKeeper, find_output, latency_value
from engine.settings.config import AudioSettings
from engine.errors import UserError


def jack_settings():
    import sounddevice as sd

    index = find_output("JACK")
    return AudioSettings(device=str(index), samplerate=int(sd.query_devices(index)["default_samplerate"]),
                         blocksize=512, latency="high")


def test_latency_takes_words_or_seconds():
    assert latency_value("low") == "low" and latency_value("0.05") == 0.05
    with pytest.raises(UserError, match="audio.latency: expected 'low', 'high' or seconds"):
        latency_value("fast")


@pytest.mark.jack
def test_outputs_are_found_by_host_api_name_or_index_and_a_wrong_name_lists_them():
    import sounddevice as sd

    index = find_output("JACK")
    assert "JACK" in sd.query_hostapis(sd.query_devices(index)["hostapi"])["name"]
    assert find_output(str(index)) == index and find_output("") is None
    with pytest.raises(UserError, match=r"audio.device: .*found 'no-such-card' \(outputs here: .*JACK"):
        find_output("no-such-card")


@pytest.mark.jack
def test_a_lost_stream_is_reopened_and_callbacks_go_on():
    calls = []

    def callback(outdata, frames, time_info, status):
        outdata.fill(0.0)
        calls.append(frames)
        keeper.callbacks = len(calls)

    keeper = StreamKeeper(jack_settings(), callback, min_delay=0.1)
    keeper.open()
    try:
        time.sleep(0.5)
        assert len(calls) > 10 and set(calls) == {512}
        keeper.stream.abort()                       # as when the server drops us
        deadline = time.monotonic() + 10
        while keeper.restarts == 0 and time.monotonic() < deadline:
            keeper.check(time.monotonic())
            time.sleep(0.02)
        assert keeper.restarts == 1 and keeper.stream is not None and keeper.stream.active
        before = len(calls)
        time.sleep(0.5)
        assert len(calls) > before + 10
    finally:
        keeper.close()
    assert keeper.stream is None


@pytest.mark.jack
def test_a_device_that_cannot_open_is_retried_without_raising():
    settings = replace(jack_settings(), samplerate=44100 if jack_settings().samplerate != 44100 else 48000)
    keeper = StreamKeeper(settings, lambda *a: None, min_delay=1.0)
    keeper.check(time.monotonic())                   # the server's rate is another: PortAudio refuses
    assert keeper.stream is None and keeper.restarts == 1 and keeper._delay == pytest.approx(2.0)
    keeper.check(time.monotonic())                   # too soon: no second try yet
    assert keeper.restarts == 1


def test_no_speakers_runs_the_callback_at_the_block_rate_without_any_sound_server():
    calls = []

    def callback(outdata, frames, time_info, status):
        assert outdata.shape == (frames, 2) and not status.output_underflow
        calls.append(time.monotonic())
        keeper.callbacks = len(calls)

    keeper = StreamKeeper(AudioSettings(device="none", samplerate=48000, blocksize=480), callback)
    keeper.open()
    try:
        time.sleep(1.0)
        keeper.check(time.monotonic())              # a paced stream is alive: nothing to reopen
        assert keeper.restarts == 0
    finally:
        keeper.close()
    assert keeper.stream is None
    # 100 blocks a second; a busy machine may delay some, and the clock catches them up.
    assert 80 <= len(calls) <= 102
    settled = len(calls)
    time.sleep(0.1)
    assert len(calls) == settled                    # closed means no more callbacks
