"""Run inside a private network namespace by tests/test_ndi.py: the show's NDI output sends frames drawn on a
real pygame surface and a real audio block stream; a real cyndilib receiver finds the source (NDI's unicast
"ips" config found through NDI_CONFIG_DIR, no mDNS) and takes them. Prints one JSON line of what arrived."""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import numpy as np  # noqa: E402
import pygame  # noqa: E402
from cyndilib import (AudioRecvFrame, Finder, Receiver, RecvBandwidth,  # noqa: E402
                      RecvColorFormat, VideoRecvFrame)
from cyndilib.receiver import ReceiveFrameType  # noqa: E402

from engine.record.ndi import NdiOutput  # noqa: E402

NAME, SIZE, FPS, RATE, BLOCK = "Postcards loopback", (320, 180), 30, 48000, 512
FRAMES = 10  # video frames to take


def main() -> None:
    pygame.display.init()
    surface = pygame.display.set_mode(SIZE)
    output = NdiOutput(NAME, FPS, RATE)
    output.start()
    finder = Finder()
    finder.open()
    receiver = Receiver(color_format=RecvColorFormat.BGRX_BGRA, bandwidth=RecvBandwidth.highest)
    video, audio = VideoRecvFrame(), AudioRecvFrame()
    receiver.set_video_frame(video)
    receiver.set_audio_frame(audio)
    result = {"sources": [], "frames": 0, "sizes": [], "rates": [], "colours": [], "audio_frames": 0,
              "audio_rates": [], "audio_channels": [], "peak": 0.0}
    start = time.monotonic()
    frame_index = sample = 0
    connected = False
    # This receiver takes about one video frame a second here (the sender sends all 30: its stats say so).
    while time.monotonic() - start < 90 and (result["frames"] < FRAMES or result["audio_frames"] < 20):
        # The show: a frame of a known colour, and the mix's blocks for that frame's time (a 440 Hz tone).
        colour = (frame_index * 7 % 256, 90, 200)
        surface.fill(colour)
        output.frame(surface, time.monotonic())
        while sample < (frame_index + 1) * RATE // FPS:
            t = (sample + np.arange(BLOCK)) / RATE
            tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            output.audio(np.stack([tone, tone], axis=1), sample)
            sample += BLOCK
        frame_index += 1
        if not connected:
            finder.wait_for_sources(0.01)
            result["sources"] = finder.update_sources()
            match = [n for n in result["sources"] if NAME in n]
            if match:
                receiver.set_source(finder.get_source(match[0]))
                connected = True
                result["found_after"] = round(time.monotonic() - start, 2)
        else:
            for _ in range(32):  # all that arrived since the last frame (audio comes in several blocks a frame)
                got = receiver.receive(ReceiveFrameType.recv_all, 2)
                if got & ReceiveFrameType.recv_video:
                    result.setdefault("first_frame_after", round(time.monotonic() - start, 2))
                    pixels = np.empty(video.get_buffer_size(), np.uint8)
                    video.fill_p_data(pixels)
                    pixels = pixels.reshape(video.yres, video.xres, 4)  # B, G, R, A
                    result["frames"] += 1
                    result["sizes"].append(list(video.get_resolution()))
                    rate = video.get_frame_rate()
                    result["rates"].append([rate.numerator, rate.denominator])
                    result["colours"].append([int(c) for c in pixels[video.yres // 2, video.xres // 2, 2::-1]])
                if got & ReceiveFrameType.recv_audio:
                    data, _ = audio.get_all_read_data()
                    result["audio_frames"] += 1
                    result["audio_samples"] = result.get("audio_samples", 0) + data.shape[1]
                    result["audio_rates"].append(audio.sample_rate)
                    result["audio_channels"].append(data.shape[0])
                    result["peak"] = max(result["peak"], float(np.abs(data).max()) if data.size else 0.0)
                if not got & (ReceiveFrameType.recv_video | ReceiveFrameType.recv_audio):
                    break
        time.sleep(1 / FPS)
    output.stop()
    result["stats"] = output.stats
    result["dropped"] = output.frames_dropped
    receiver.disconnect()
    finder.close()
    print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
