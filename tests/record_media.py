"""What a recorded file holds, read back with PyAV: the measurements the recording tests assert on."""

from __future__ import annotations

import av
import numpy as np


def streams(path) -> dict[str, tuple[str, float]]:
    """type -> (codec name, duration in seconds) for each stream."""
    with av.open(str(path)) as container:
        return {s.type: (s.codec_context.name, float(s.duration * s.time_base)) for s in container.streams}


def video_frames(path) -> list[tuple[float, float]]:
    """(time, mean brightness 0..255) of every decoded frame; a truncated tail ends the list."""
    frames = []
    with av.open(str(path)) as container:
        try:
            for frame in container.decode(video=0):
                frames.append((frame.time, float(frame.to_ndarray(format="gray").mean())))
        except av.FFmpegError:
            pass
    return frames


def audio_samples(path) -> tuple[np.ndarray, int, float]:
    """(samples (n, channels), samplerate, time of the first sample); a truncated tail ends them."""
    blocks, first = [], None
    with av.open(str(path)) as container:
        rate = container.streams.audio[0].rate
        try:
            for frame in container.decode(audio=0):
                first = frame.time if first is None else first
                blocks.append(frame.to_ndarray().T)
        except av.FFmpegError:
            pass
    return np.concatenate(blocks), rate, first or 0.0


def flash_time(path, threshold: float = 128.0) -> float:
    """Show time of the first frame brighter than `threshold`."""
    return next(t for t, level in video_frames(path) if level > threshold)


def click_time(path, threshold: float = 0.3) -> float:
    """Time of the first sample louder than `threshold`."""
    samples, rate, first = audio_samples(path)
    return first + int(np.argmax(np.abs(samples).max(axis=1) > threshold)) / rate
