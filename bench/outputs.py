"""Benchmark: what NDI out and the web face cost the frame loop, and how late an OSC change shows in the browser.

Frames: the live show at each size (headless, the sampler worker painting all the time, always crossfading
with drift: bench/perform.py's worst case), paced at 60 Hz. In one process and one run, blocks of frames take
turns: outputs off, NDI on, the web face on with a viewer reading its MJPEG stream, both; four rounds, so the
machine's noise falls on every mode alike. Frame time = Live.frame() + display.flip(), wall and the main
thread's CPU; the outputs' share (their frame() calls: the copy into a free slot) is also timed alone, as
the main thread's CPU time (on a shared machine, wall time mostly measures the other processes). A show frame is dropped when the gap
between two frame starts exceeds 1.5 / 60 s; an output's frames dropped (no free slot) are counted apart.
NDI runs with a real cyndilib receiver taking the source (its own process, over loopback, NDI's "ips" config).

Latency: OSC → browser: an OSC message sets /visual/black to 1 (the picture fades to black at once) and a
headless Chromium watching the page's MJPEG <img> polls the picture's brightness; the time from sending to
the first dark picture in the page, over several tries (needs Debian's chromium).

    .venv/bin/python -m bench.outputs                        # 720p and 1080p, 4 rounds of 4 modes x 4 s
    .venv/bin/python -m bench.outputs --sizes 1920x1080 --block 10
    .venv/bin/python -m bench.outputs --latency-only
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from bench.perform import bench_config, percentile

FPS = 60
MODES = ("off", "ndi", "web", "ndi+web")


def parse(argv=None):
    from engine.cli.args import parse_size

    parser = argparse.ArgumentParser(prog="python -m bench.outputs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=lambda t: [parse_size(s) for s in t.split(",")],
                        default=[(1280, 720), (1920, 1080)], help="window sizes, e.g. 1280x720,1920x1080")
    parser.add_argument("--block", type=float, default=4.0, help="seconds a mode runs before the next takes over")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of every mode (default 4)")
    parser.add_argument("--model", help="model folder name in models/, or a path (default: default)")
    parser.add_argument("--random", metavar="PRESET", default=None, help="a random model of a training preset")
    parser.add_argument("--latency-only", action="store_true", help="only OSC -> picture in the browser")
    parser.add_argument("--tries", type=int, default=10, help="latency tries (default 10)")
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_web(config):
    return replace(config, web=replace(config.web, enabled=True, port=free_port(), read_only=[]))


class MjpegViewer:
    """Reads the web face's MJPEG stream on a thread, as a browser would (counts the pictures)."""

    def __init__(self, port: int):
        self.pictures, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._read, args=(port,), daemon=True)
        self._thread.start()

    def _read(self, port: int) -> None:
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"GET /picture.mjpg HTTP/1.1\r\nHost: localhost\r\n\r\n")
            s.settimeout(1.0)
            while not self._stop.is_set():
                try:
                    self.pictures += s.recv(1 << 20).count(b"Content-Type: image/jpeg")
                except TimeoutError:
                    continue

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def receive_ndi(name: str, frames, stop) -> None:
    """A real NDI receiver taking the show's source, in a process of its own (cyndilib's receive holds the
    interpreter lock while it waits: in the show's process it would stall the frame loop)."""
    import numpy as np
    from cyndilib import Finder, Receiver, RecvBandwidth, RecvColorFormat, VideoRecvFrame
    from cyndilib.receiver import ReceiveFrameType

    finder = Finder()
    finder.open()
    receiver = Receiver(color_format=RecvColorFormat.BGRX_BGRA, bandwidth=RecvBandwidth.highest)
    video = VideoRecvFrame()
    receiver.set_video_frame(video)
    while not stop.is_set():
        finder.wait_for_sources(0.2)
        found = [n for n in finder.update_sources() if name in n]
        if found:
            receiver.set_source(finder.get_source(found[0]))
            break
    while not stop.is_set():
        if receiver.receive(ReceiveFrameType.recv_video, 100) & ReceiveFrameType.recv_video:
            pixels = np.empty(video.get_buffer_size(), np.uint8)
            video.fill_p_data(pixels)
            frames.value += 1
    receiver.disconnect()
    finder.close()


def frame_part(config, scenes: Path, size: tuple[int, int], block: float, rounds: int) -> list[dict]:
    import pygame

    from engine.control.web import WebFace
    from engine.perform.live import Live
    from engine.record.ndi import NdiOutput

    config = replace(config, display=replace(config.display, size=size, headless=True, vsync=False))
    live = Live(config, scenes_dir=scenes, audio=False, controllers=False)
    live.start()
    began = time.monotonic()
    while not live.performance.renderer.busy and time.monotonic() - began < 600:  # until the first postcard
        live.frame(time.monotonic())
        live.present()
        time.sleep(1 / FPS)
    ndi = NdiOutput("Postcards bench", FPS, config.audio.samplerate)
    ndi.start()
    spawn = multiprocessing.get_context("spawn")
    received, stop_receiving = spawn.Value("i", 0), spawn.Event()
    receiver = spawn.Process(target=receive_ndi, args=("Postcards bench", received, stop_receiving), daemon=True)
    receiver.start()
    face = WebFace(with_web(config), live.show)
    face.start()
    viewer = MjpegViewer(face.address[1])
    outputs = {"off": [], "ndi": [ndi], "web": [face], "ndi+web": [ndi, face]}
    samples = {mode: {"wall": [], "cpu": [], "share": [], "gaps": 0} for mode in MODES}
    share = [0.0]  # the outputs' own part of this frame (their frame() calls), the main thread's CPU seconds

    def timed(frame):
        def call(surface, now):
            began = time.thread_time()
            frame(surface, now)
            share[0] += time.thread_time() - began
        return call

    ndi.frame, face.frame = timed(ndi.frame), timed(face.frame)
    clock = pygame.time.Clock()
    for _ in range(rounds):
        for mode in MODES:
            data, start, last = samples[mode], time.monotonic(), None
            live.performance.outputs = outputs[mode]  # what the perform loop feeds, as [ndi]/[web] set it up
            while (now := time.monotonic()) - start < block:
                work, share[0] = time.thread_time(), 0.0
                live.frame(now)
                live.present()
                data["wall"].append(time.monotonic() - now)
                data["cpu"].append(time.thread_time() - work)
                data["share"].append(share[0])
                if last is not None:
                    data["gaps"] += now - last > 1.5 / FPS
                last = now
                clock.tick(FPS)
    rows = []
    for mode in MODES:
        data = samples[mode]
        rows.append({"size": f"{size[0]}x{size[1]}", "mode": mode, "frames": len(data["wall"]),
                     "p50": 1000 * statistics.median(data["wall"]), "p99": 1000 * percentile(data["wall"], 99),
                     "cpu_p50": 1000 * statistics.median(data["cpu"]), "cpu_p99": 1000 * percentile(data["cpu"], 99),
                     "share_p50": 1000 * statistics.median(data["share"]),
                     "share_p99": 1000 * percentile(data["share"], 99),
                     "dropped": data["gaps"]})
    extra = {"ndi_sent": ndi.stats["frames_sent"], "ndi_dropped": ndi.frames_dropped,
             "ndi_received": received.value, "web_pictures": face.stats["pictures"],
             "web_dropped": face.handoff.stats["dropped"], "viewer_pictures": viewer.pictures}
    viewer.stop()
    stop_receiving.set()
    receiver.join(timeout=10)
    face.stop()
    ndi.stop()
    live.stop()
    rows[-1]["extra"] = extra
    return rows


def latency_part(config, scenes: Path, tries: int) -> list[float]:
    """Seconds from an OSC /visual/black 1 to a dark picture in a headless Chromium's page."""
    from pythonosc.udp_client import SimpleUDPClient

    from engine.perform.live import Live

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from browser import chromium

    config = replace(with_web(config), display=replace(config.display, size=(1280, 720), headless=True, vsync=False),
                     osc=replace(config.osc, enabled=True, port=free_port()))
    live = Live(config, scenes_dir=scenes, audio=False)  # OSC and the web face, as [osc] and [web] say
    live.start()
    face = live.controllers.web
    sender = SimpleUDPClient("127.0.0.1", config.osc.port)
    brightness = ("(() => { const img = document.getElementById('picture'); if (!img.naturalWidth) return -1;"
                  " const c = document.createElement('canvas'); c.width = 32; c.height = 18;"
                  " const g = c.getContext('2d'); g.drawImage(img, 0, 0, 32, 18);"
                  " const d = g.getImageData(0, 0, 32, 18).data; let s = 0;"
                  " for (let i = 0; i < d.length; i += 4) s += d[i] + d[i + 1] + d[i + 2];"
                  " return s / (d.length / 4) / 3; })()")
    results: list[float] = []

    async def scenario():
        async with chromium() as page:
            await page.call("Page.navigate", url=f"http://127.0.0.1:{face.address[1]}/")
            await page.wait_for("document.body && document.body.dataset.ready === '1'")
            await page.wait_for(f"{brightness} > 20", timeout=300)  # a postcard is there
            for _ in range(tries):
                sent = time.monotonic()
                sender.send_message("/visual/black", 1.0)
                while await page.evaluate(brightness) > 5:
                    pass
                results.append(time.monotonic() - sent)
                sender.send_message("/visual/black", 0.0)
                await page.wait_for(f"{brightness} > 20")
                await asyncio.sleep(0.3)

    failure = []

    def run():
        try:
            asyncio.run(scenario())
        except BaseException as e:  # noqa: BLE001 (re-raised below)
            failure.append(e)

    thread = threading.Thread(target=run)
    thread.start()
    while thread.is_alive():
        live.frame(time.monotonic())
        live.present()
        time.sleep(1 / FPS)
    live.stop()
    if failure:
        raise failure[0]
    return results


def main(argv=None) -> None:
    from bench.sample import model_folder
    from engine.postcards.store import list_models
    from engine.settings.config import load_config

    args = parse(argv)
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    if not args.model and not args.random and "default" not in list_models(load_config().path("models")):
        args.random = "small"
    with tempfile.TemporaryDirectory() as scratch:
        ndi_dir = Path(scratch) / ".ndi"
        ndi_dir.mkdir()
        (ndi_dir / "ndi-config.v1.json").write_text('{"ndi": {"networks": {"ips": "127.0.0.1"}}}')
        os.environ["NDI_CONFIG_DIR"] = str(ndi_dir)  # sender and receiver find each other over loopback
        folder = model_folder(args, Path(scratch) / "model")
        scenes = Path(scratch) / "scenes"
        scenes.mkdir()
        config = bench_config(folder, scenes)
        if not args.latency_only:
            rows = []
            for size in args.sizes:
                rows += frame_part(config, scenes, size, args.block, args.rounds)
            print("| size | outputs | frames | frame p50 ms | frame p99 ms | CPU p50 ms | CPU p99 ms | "
                  "outputs' CPU p50 ms | p99 ms | dropped (60 Hz) |")
            print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
            for r in rows:
                print(f"| {r['size']} | {r['mode']} | {r['frames']} | {r['p50']:.2f} | {r['p99']:.2f} | "
                      f"{r['cpu_p50']:.2f} | {r['cpu_p99']:.2f} | {r['share_p50']:.2f} | {r['share_p99']:.2f} | "
                      f"{r['dropped']} |")
            for r in rows:
                if "extra" in r:
                    print(f"{r['size']}: {r['extra']}")
        latencies = latency_part(config, scenes, args.tries)
        print(f"\nOSC -> dark picture in the browser (MJPEG, {len(latencies)} tries): median "
              f"{1000 * statistics.median(latencies):.0f} ms, max {1000 * max(latencies):.0f} ms")


if __name__ == "__main__":
    main()
