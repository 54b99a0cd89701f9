"""The MP4 recorder: real H.264 + AAC files written by PyAV, read back with PyAV."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from engine.settings.config import RecordingSettings
from engine.record.recorder import Recorder
from engine.record.writer import RecordingError
from record_media import audio_samples, click_time, flash_time, streams, video_frames

RATE, FPS = 48000, 30
SETTINGS = RecordingSettings(size=(320, 180), fps=FPS, preset="ultrafast", queue=8)


def record(path, seconds=3.0, flash_at=None, skip=(), size=(320, 180), wait=True, audio_offset=0.0):
    """Frames (black, white at `flash_at`) and silence (a click at `flash_at`) as a show would hand them."""
    recorder = Recorder(path, (320, 180), FPS, RATE, SETTINGS, start=0.0, wait=wait)
    per_frame = RATE // FPS
    for i in range(round(seconds * FPS)):
        t = i / FPS
        flash = flash_at is not None and abs(t - flash_at) < 1e-9
        if i not in skip:
            recorder.add_frame(np.full((size[1], size[0], 3), 255 if flash else 0, np.uint8), t)
        block = np.zeros((per_frame, 2), np.float32)
        if flash:
            block[:48] = 0.8
        recorder.add_audio(block, t + audio_offset)
    return recorder.stop()


def test_h264_and_aac_of_the_right_length(tmp_path):
    stats = record(tmp_path / "a.mp4", seconds=5.0)
    found = streams(tmp_path / "a.mp4")
    assert found["video"][0] == "h264" and found["audio"][0] == "aac"
    assert abs(found["video"][1] - 5.0) <= 1 / FPS
    assert abs(found["audio"][1] - 5.0) <= 1 / FPS
    assert (stats.frames, stats.dropped, stats.error) == (150, 0, None)


def test_flash_and_click_at_the_same_time_even_after_skipped_frames(tmp_path):
    # Frames 10..19 never arrive (as if dropped): later frames keep their show time, so sync holds.
    record(tmp_path / "sync.mp4", flash_at=2.0, skip=range(10, 20), size=(640, 360))
    assert flash_time(tmp_path / "sync.mp4") == pytest.approx(2.0, abs=1e-6)
    assert click_time(tmp_path / "sync.mp4") == pytest.approx(2.0, abs=1 / RATE)
    assert len(video_frames(tmp_path / "sync.mp4")) == 90 - 10


def test_sync_holds_after_ten_minutes(tmp_path):
    # Ten minutes at 30 fps with one frame a second handed over (the rest as if dropped), at a low sample
    # rate to keep the test quick: the flash and the click at 9:59 land on the same frame and sample.
    rate, path = 12000, tmp_path / "long.mp4"
    recorder = Recorder(path, (32, 32), FPS, rate, SETTINGS, start=0.0, wait=True)
    silence, click = np.zeros((rate // FPS, 2), np.float32), np.zeros((rate // FPS, 2), np.float32)
    click[:8] = 0.8
    for i in range(10 * 60 * FPS):
        flash = i == 599 * FPS
        if flash or i % FPS == 0:
            recorder.add_frame(np.full((32, 32, 3), 255 if flash else 0, np.uint8), i / FPS)
        recorder.add_audio(click if flash else silence, i / FPS)
    stats = recorder.stop()
    assert stats.audio_seconds == 600.0
    assert flash_time(path) == pytest.approx(599.0, abs=1e-6)
    assert click_time(path) == pytest.approx(599.0, abs=1 / rate)


def test_audio_follows_the_show_clock(tmp_path):
    # Audio handed 0.5 s late in show time starts with 0.5 s of silence and the click stays on the picture.
    record(tmp_path / "late.mp4", flash_at=2.0, audio_offset=0.5)
    samples, rate, _ = audio_samples(tmp_path / "late.mp4")
    assert np.abs(samples[:rate // 2]).max() < 1e-3
    assert click_time(tmp_path / "late.mp4") == pytest.approx(2.5, abs=1 / RATE)
    assert flash_time(tmp_path / "late.mp4") == pytest.approx(2.0, abs=1e-6)


def test_an_encoder_behind_drops_frames_and_counts_them(tmp_path):
    # No waiting: 120 frames handed over at once to an encoder that keeps 8 in hand.
    stats = record(tmp_path / "busy.mp4", seconds=4.0, wait=False)
    assert stats.dropped > 0 and stats.frames + stats.dropped == 120
    assert len(video_frames(tmp_path / "busy.mp4")) == stats.frames


def test_colours_survive_the_round_trip(tmp_path):
    import av
    recorder = Recorder(tmp_path / "c.mp4", (320, 180), FPS, RATE, SETTINGS, start=0.0, wait=True)
    colour = np.array([200, 30, 60], np.uint8)
    for i in range(3):  # RGB bytes of another size, as the live recorder hands them over
        recorder.add_frame(np.broadcast_to(colour, (360, 640, 3)).tobytes(), i / FPS, (640, 360))
    recorder.stop()
    with av.open(str(tmp_path / "c.mp4")) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert frame.shape == (180, 320, 3)
    np.testing.assert_allclose(frame.reshape(-1, 3).mean(axis=0), colour, atol=6)


def test_a_faster_display_hands_over_only_new_frames(tmp_path):
    recorder = Recorder(tmp_path / "60.mp4", (320, 180), FPS, RATE, SETTINGS, start=10.0, wait=True)
    wanted = 0
    for i in range(60):  # one second of a 60 fps display, from show time 10 s
        t = 10.0 + i / 60
        if recorder.wants_frame(t):
            wanted += 1
            recorder.add_frame(np.zeros((180, 320, 3), np.uint8), t)
    stats = recorder.stop()
    assert wanted == stats.frames == 30


def test_what_h264_and_aac_cannot_take_is_a_clear_error(tmp_path):
    with pytest.raises(RecordingError, match="AAC takes .*48000.*found 9600"):
        Recorder(tmp_path / "x.mp4", (320, 180), FPS, 9600, SETTINGS)
    with pytest.raises(RecordingError, match="expected even width and height .*found 321x180"):
        Recorder(tmp_path / "x.mp4", (321, 180), FPS, RATE, SETTINGS)
    assert not (tmp_path / "x.mp4").exists()


def test_an_unwritable_path_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(RecordingError, match="file/x.mp4: cannot write the recording"):
        Recorder(tmp_path / "file" / "x.mp4", (320, 180), FPS, RATE, SETTINGS)


def run_child(code: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def test_a_full_disk_stops_the_recording_and_the_show_goes_on(tmp_path):
    # A 200 kB file-size limit stands in for a full disk (same failure: the write is refused mid-stream).
    child = run_child(f"""
        import resource, numpy as np
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, resource.RLIM_INFINITY))
        from engine.settings.config import RecordingSettings
        from engine.record.recorder import Recorder
        recorder = Recorder({str(tmp_path / "full.mp4")!r}, (320, 180), 30, 48000,
                            RecordingSettings(preset="ultrafast"), start=0.0, wait=True)
        noise = np.random.default_rng(0)
        shown = 0
        for i in range(300):  # the show's frames: they go on whatever the recorder does
            recorder.add_frame(noise.integers(0, 255, (180, 320, 3), dtype=np.uint8), i / 30)
            recorder.add_audio(np.zeros((1600, 2), np.float32), i / 30)
            shown += 1
        stats = recorder.stop()
        print(shown, recorder.active, stats.frames, stats.error, sep="|")
        """)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    shown, active, frames, error = out.strip().split("|")
    assert shown == "300" and active == "False" and int(frames) < 300
    assert "full.mp4: recording stopped: File too large" in error
    assert "the show goes on" in err


def test_a_killed_recording_plays_up_to_shortly_before_the_kill(tmp_path):
    # A real-time recording killed with SIGKILL after about 3 s of show.
    child = run_child(f"""
        import sys, time, numpy as np
        from engine.settings.config import RecordingSettings
        from engine.record.recorder import Recorder
        recorder = Recorder({str(tmp_path / "killed.mp4")!r}, (320, 180), 30, 48000,
                            RecordingSettings(preset="ultrafast"), start=0.0)
        began = time.monotonic()
        for i in range(100_000):
            t = i / 30
            time.sleep(max(0.0, began + t - time.monotonic()))
            recorder.add_frame(np.full((180, 320, 3), i % 256, np.uint8), t)
            recorder.add_audio(np.zeros((1600, 2), np.float32), t)
            print(t, flush=True)
        """)
    handed = 0.0
    while handed < 3.0:
        handed = float(child.stdout.readline())
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    frames = video_frames(tmp_path / "killed.mp4")
    samples, rate, _ = audio_samples(tmp_path / "killed.mp4")
    assert frames[-1][0] >= handed - 1.5, f"video ends at {frames[-1][0]} s, killed at {handed} s"
    assert len(samples) / rate >= handed - 1.5
    assert [round(t * FPS) for t, _ in frames] == list(range(len(frames)))  # every frame, in order
