"""Benchmark of the control path: OSC message -> Show state -> a drawn frame, and bursts.

    .venv/bin/python -m bench.control          # the figures in docs/benchmarks.md (## Control)

1. Latency: a sender thread sends /visual/black (a new value each time, at random moments, --messages in
   all) over UDP on loopback to the real OSC server; the main thread runs frames like engine.perform.performance's live
   loop: show.update(now), engine.picture.compositor.Renderer draws a 1280x720 frame with the show's black level,
   display.flip() (SDL's dummy video driver), pygame's Clock.tick(--fps). Per message: send -> handed to the
   Show (the OSC thread's part), send -> applied (the frame's update), send -> drawn (that frame's draw and
   flip finished; the centre pixel is checked to carry the new level). Goal: p99 of send -> drawn <= one
   frame + 2 ms.
2. Bursts: --burst messages (/sampler/seed 0..N-1) sent back to back, --repeats times: how many the Show
   applied, and how many feedback messages came back to the sender. Side by side, the same bursts into
   python-osc's ThreadingOSCUDPServer (a thread per datagram), counted where it hands them to the Show; and
   a burst of MIDI CCs from an rtmidi virtual port on JACK into the MIDI controller (when JACK runs).
"""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import argparse  # noqa: E402
import bisect  # noqa: E402
import contextlib  # noqa: E402
import dataclasses  # noqa: E402
import random  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from pythonosc.dispatcher import Dispatcher  # noqa: E402
from pythonosc.osc_message_builder import build_msg  # noqa: E402
from pythonosc.osc_server import ThreadingOSCUDPServer  # noqa: E402

from engine.control import start_controllers  # noqa: E402
from engine.settings.config import MidiMapping  # noqa: E402
from engine.show.controls import Command  # noqa: E402
from engine.show.state import Show  # noqa: E402

# One copy of the control helpers: the tests' (a Show with a frame thread, ports, the tests' own scenes).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from control_helpers import control_config, free_port, running_show, wait_for  # noqa: E402

GRAY = 200  # the test postcard's level: a drawn pixel is GRAY * (1 - black)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


class Probe:
    """Timestamps (perf_counter) of each value at each stage, keyed by the value itself."""

    def __init__(self, show: Show, address: str):
        self.address = address
        self.sent: dict = {}
        self.submitted: dict = {}
        self.applied: dict = {}
        submit = show.submit

        def timed_submit(command: Command) -> None:  # the OSC thread hands the Show a Command
            if command.address == address:
                self.submitted.setdefault(command.args[0], time.perf_counter())
            submit(command)

        show.submit = timed_submit
        show.on("/", self._on_change)

    def _on_change(self, address, value, source) -> None:
        if address == self.address and source.startswith("osc"):
            self.applied.setdefault(value, time.perf_counter())


def frame_loop(show: Show, fps: int, stop: threading.Event, probe: Probe, drawn: dict, bad_pixels: list):
    """engine.perform.performance's live loop, shape for shape: update, draw, flip, pygame's Clock.tick(fps)."""
    import pygame

    from engine.picture.compositor import Look, Renderer
    from engine.postcards.maker import Postcard

    pygame.display.init()
    target = pygame.display.set_mode((1280, 720))
    renderer = Renderer()
    image = np.full((128, 128, 3), GRAY, np.uint8)
    renderer.begin(Postcard(seed=0, image=image), time.monotonic(), 0.0)
    clock = pygame.time.Clock()
    intervals, updates, last = [], [], None
    while not stop.is_set():
        now = time.monotonic()
        before = set(probe.applied)
        updates.append(time.perf_counter())
        show.update(now)
        black = show.get("/visual/black")
        renderer.draw(target, now, Look(black=black))
        pygame.display.flip()
        finished = time.perf_counter()
        for value in set(probe.applied) - before:
            drawn[value] = finished
            if value == black and abs(target.get_at((640, 360))[0] - GRAY * (1 - black)) > 3:
                bad_pixels.append(value)
        if last is not None:
            intervals.append(finished - last)
        last = finished
        clock.tick(fps)
    pygame.display.quit()
    return intervals, updates


def latency(config, messages: int, fps: int, seed: int) -> dict:
    show = Show(config, scene="dawn")
    probe = Probe(show, "/visual/black")
    controllers = start_controllers(config, show)
    stop, drawn, bad_pixels = threading.Event(), {}, []
    rng = random.Random(seed)

    def send():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            time.sleep(0.5)
            for i in range(messages):
                value = (i + 1) / 1024  # exact in float32 and unique, so each stage finds its message
                probe.sent[value] = time.perf_counter()
                s.sendto(build_msg("/visual/black", [value]).dgram, ("127.0.0.1", config.osc.port))
                time.sleep(rng.uniform(0.02, 0.045))  # random phase against the frames
            time.sleep(0.3)
        stop.set()

    sender = threading.Thread(target=send)
    sender.start()
    try:
        intervals, updates = frame_loop(show, fps, stop, probe, drawn, bad_pixels)
    finally:
        sender.join()
        controllers.stop()
    to = {stage: [1000 * (times[v] - probe.sent[v]) for v in probe.sent if v in times]
          for stage, times in (("submitted", probe.submitted), ("applied", probe.applied), ("drawn", drawn))}
    # Did each message make the first frame update that began after the Show had it?
    first = bisect.bisect_left
    next_frame = sum(1 for v, t in probe.submitted.items() if v in probe.applied and
                     first(updates, probe.applied[v]) - first(updates, t) == 1)
    return dict(to=to, sent=len(probe.sent), bad_pixels=len(bad_pixels), frame_ms=1000 / fps, next_frame=next_frame,
                interval_p50=1000 * percentile(intervals, 50), interval_p99=1000 * percentile(intervals, 99))


@contextlib.contextmanager
def show_with_frames(config, address: str, source: str):
    """A Show with the controllers config enables and a 60 fps frame thread; yields the values applied to
    `address` from controllers whose source starts with `source`."""
    with running_show(config, fps=60) as show:
        applied = []
        show.on(address, lambda a, v, s: applied.append(v) if s.startswith(source) else None)
        controllers = start_controllers(config, show)
        try:
            yield applied
        finally:
            controllers.stop()


def burst_ours(config, count: int) -> tuple[int, int]:
    """(applied, feedback received) for one burst into the real server and Show."""
    feedback = 0
    with show_with_frames(config, "/sampler/seed", "osc") as applied:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            s.bind(("127.0.0.1", 0))
            for i in range(count):
                s.sendto(build_msg("/sampler/seed", [i]).dgram, ("127.0.0.1", config.osc.port))
            s.settimeout(0.5)
            while feedback < count:
                try:
                    s.recvfrom(65536)
                    feedback += 1
                except socket.timeout:
                    break
        wait_for(lambda: len(applied) >= count)
    return len(applied), feedback


def burst_midi(config, count: int) -> int | None:
    """Control changes applied for one burst of CCs from a JACK virtual port; None without JACK."""
    import mido

    backend_name = "mido.backends.rtmidi/UNIX_JACK"
    try:
        device = mido.Backend(backend_name, load=True).open_output("bench-control", virtual=True)
    except Exception:
        return None
    config = dataclasses.replace(config, osc=dataclasses.replace(config.osc, enabled=False), midi=dataclasses.replace(
        config.midi, enabled=True, backend=backend_name, input="bench-control$",
        map=[MidiMapping(address="/visual/black", cc=20)]))
    try:
        with show_with_frames(config, "/visual/black", "midi") as applied:
            time.sleep(0.2)
            for i in range(count):
                device.send(mido.Message("control_change", control=20, value=i % 128))
            wait_for(lambda: len(applied) >= count)
            return len(applied)
    finally:
        device.close()


def burst_threading(count: int) -> int:
    """Messages python-osc's ThreadingOSCUDPServer hands on, for the same burst."""
    received = []
    dispatcher = Dispatcher()
    dispatcher.set_default_handler(lambda address, *args: received.append(args))
    server = ThreadingOSCUDPServer(("127.0.0.1", free_port()), dispatcher)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(count):
                s.sendto(build_msg("/sampler/seed", [i]).dgram, server.server_address)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(received) < count:
            time.sleep(0.01)
        time.sleep(0.2)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    return len(received)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=400, help="messages timed for latency")
    parser.add_argument("--fps", type=int, default=60, help="frame rate of the frame loop")
    parser.add_argument("--burst", type=int, default=1000, help="messages per burst")
    parser.add_argument("--repeats", type=int, default=5, help="bursts per server")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not 0 < args.messages <= 1023:
        parser.error("--messages: expected 1..1023 (each message carries its own /visual/black value)")

    with tempfile.TemporaryDirectory() as tmp:
        def config():
            return control_config(Path(tmp), osc={"feedback_host": "", "feedback_port": 0},
                                  oscquery={"enabled": False}, midi={"enabled": False})

        result = latency(config(), args.messages, args.fps, args.seed)
        ours = [burst_ours(config(), args.burst) for _ in range(args.repeats)]
        theirs = [burst_threading(args.burst) for _ in range(args.repeats)]
        midi = [burst_midi(config(), args.burst) for _ in range(args.repeats)]

    frame = result["frame_ms"]
    print("\nload average (1 min) at the end: %.1f on %d cores" % (os.getloadavg()[0], os.cpu_count()))
    print(f"OSC -> show latency, {result['sent']} messages, frames at {args.fps} fps "
          f"(one frame = {frame:.1f} ms; goal p99 <= {frame + 2:.1f} ms)")
    print(f"{'send ->':<24}{'n':>6}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for stage, label in (("submitted", "handed to the Show"), ("applied", "applied (frame update)"),
                         ("drawn", "drawn (frame finished)")):
        values = result["to"][stage]
        print(f"{label:<24}{len(values):>6}{percentile(values, 50):>10.2f}{percentile(values, 99):>10.2f}"
              f"{max(values, default=float('nan')):>10.2f}")
    print(f"applied by the first frame update after reaching the Show: {result['next_frame']} of {result['sent']}")
    print(f"frames drawn with a wrong level: {result['bad_pixels']}; frame interval p50 "
          f"{result['interval_p50']:.2f} ms, p99 {result['interval_p99']:.2f} ms")
    print(f"\nbursts of {args.burst} messages, {args.repeats} each (lost = sent - counted)")
    print(f"{'server':<44}{'median lost':>12}{'max lost':>10}")
    rows = [("asyncio (ours): applied by the Show", [args.burst - a for a, _ in ours]),
            ("asyncio (ours): feedback back at the sender", [args.burst - f for _, f in ours]),
            ("python-osc ThreadingOSCUDPServer: handled", [args.burst - n for n in theirs])]
    if None not in midi:
        rows.append(("MIDI CCs (rtmidi on JACK): applied", [args.burst - n for n in midi]))
    else:
        print("(no JACK server: the MIDI burst row is left out)")
    for label, lost in rows:
        print(f"{label:<44}{statistics.median(lost):>12.0f}{max(lost):>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
