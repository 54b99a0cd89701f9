"""Benchmark: from `postcards perform` to a picture on screen, cold and warm, on a quiet and on a busy machine.

Each run starts a fresh Xvfb whose screen is also a file (`Xvfb -fbdir`: an XWD image the server keeps up to
date), starts `python -m engine perform` on it and reads that file every 2 ms: the time from the command to
the first frame on screen that is not black is what a viewer waits for. Then, the moment the picture is
there, an OSC message fades the show to black (`/visual/black 1`) and the time until the screen is dark is
the control's latency, in frames of the show's 60 Hz.

- cold: a new state folder (no cached postcards: the model's own samples/ are the first picture) and the
  page cache dropped first where that is allowed (root);
- warm: the same state folder again, right after a run (the postcards the last show painted);
- busy: two processes spinning on the machine's cores during the run.

    xvfb-run is not needed (each run starts its own Xvfb):
    .venv/bin/python -m bench.startup                  # 3 runs of each of the four conditions
    .venv/bin/python -m bench.startup --runs 5 --json bench/results/startup.json
    git worktree add /tmp/before c9abaf3 && .venv/bin/python -m bench.startup --project /tmp/before   # an older tree
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 640, 360
XWD_HEADER = 160 + 256 * 12   # Xvfb's screen file at depth 24: the header, a 256-entry colour map, then pixels
DARK = 8                      # mean pixel value below which the screen counts as black


def free_port(kind=socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spin() -> None:
    while True:
        pass


def screen(fbdir: Path) -> np.ndarray | None:
    try:
        data = np.fromfile(fbdir / "Xvfb_screen0", dtype=np.uint8, offset=XWD_HEADER)
    except (OSError, ValueError):
        return None
    return data[:WIDTH * HEIGHT * 4].reshape(HEIGHT, WIDTH, 4)[..., :3] if data.size >= WIDTH * HEIGHT * 4 else None


def osc_black() -> bytes:
    from pythonosc.osc_message_builder import build_msg

    return build_msg("/visual/black", [1.0]).dgram


def write_config(folder: Path, project: Path, state: Path, osc_port: int) -> Path:
    config = folder / "config.toml"
    config.write_text(
        f"[display]\nsize = [{WIDTH}, {HEIGHT}]\n"
        "[audio]\ndevice = \"none\"\n"   # the mix runs on the clock: the same start-up, no sound card needed
        f"[osc]\nport = {osc_port}\n[oscquery]\nenabled = false\n"
        f"[paths]\nmodels = \"{project / 'models'}\"\nscenes = \"{project / 'scenes'}\"\nstate = \"{state}\"\n"
        f"logs = \"{folder / 'logs'}\"\n")
    return config


def drop_page_cache() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def one_run(project: Path, state: Path, cold: bool, busy: bool, seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fbdir = tmp / "fb"
        fbdir.mkdir()
        display = f":{free_port(socket.SOCK_STREAM) % 400 + 100}"
        xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", f"{WIDTH}x{HEIGHT}x24", "-fbdir", str(fbdir),
                                 "-nolisten", "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        spinners = [mp.Process(target=spin, daemon=True) for _ in range(os.cpu_count() or 2)] if busy else []
        try:
            while screen(fbdir) is None:
                time.sleep(0.01)
            port = free_port()
            config = write_config(tmp, project, state, port)
            dropped = drop_page_cache() if cold else False
            for s in spinners:
                s.start()
            env = dict(os.environ, DISPLAY=display, SDL_VIDEODRIVER="x11", SDL_AUDIODRIVER="dummy")
            started = time.monotonic()
            show = subprocess.Popen([sys.executable, "-m", "engine", "--config", str(config), "perform",
                                     "--duration", str(seconds)], cwd=project, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            first = dark = None
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                while show.poll() is None and time.monotonic() - started < seconds + 30:
                    pixels = screen(fbdir)
                    now = time.monotonic()
                    level = float(pixels.mean()) if pixels is not None else 0.0
                    if first is None and level > DARK:
                        first = now
                        sender.sendto(osc_black(), ("127.0.0.1", port))
                    elif first is not None and dark is None and level <= DARK:
                        dark = now
                        break
                    time.sleep(0.002)
            show.terminate()
            show.wait(timeout=20)
        finally:
            for s in spinners:
                s.kill()
            xvfb.terminate()
            xvfb.wait()
    return {"cold": cold, "busy": busy, "page_cache_dropped": dropped,
            "first_picture_s": None if first is None else first - started,
            "osc_to_dark_frames": None if dark is None else (dark - first) * 60}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs of each condition (default 3)")
    parser.add_argument("--seconds", type=float, default=6.0, help="how long each show plays (default 6)")
    parser.add_argument("--json", help="also write every run to this JSON file")
    parser.add_argument("--project", type=Path, default=PROJECT,
                        help="the tree whose engine runs (e.g. a git worktree of an older commit; default: this one)")
    args = parser.parse_args(argv)
    if shutil.which("Xvfb") is None:
        raise SystemExit("bench.startup needs Xvfb (`make test` installs it)")
    runs = []
    for busy in (False, True):
        for _ in range(args.runs):
            state = Path(tempfile.mkdtemp(prefix="postcards-state-"))
            try:
                runs.append(one_run(args.project, state, cold=True, busy=busy, seconds=args.seconds))
                runs.append(one_run(args.project, state, cold=False, busy=busy, seconds=args.seconds))
            finally:
                shutil.rmtree(state, ignore_errors=True)
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    print(f"{'machine':8} {'start':6} {'first picture s (median, max)':32} {'OSC -> dark, frames (median, max)'}")
    for busy in (False, True):
        for cold in (True, False):
            group = [r for r in runs if r["busy"] == busy and r["cold"] == cold]
            firsts = [r["first_picture_s"] for r in group if r["first_picture_s"] is not None]
            darks = [r["osc_to_dark_frames"] for r in group if r["osc_to_dark_frames"] is not None]
            missing = len(group) - len(firsts)
            first = f"{statistics.median(firsts):.2f}, {max(firsts):.2f}" if firsts else "-"
            dark = f"{statistics.median(darks):.1f}, {max(darks):.1f}" if darks else "-"
            print(f"{'busy' if busy else 'quiet':8} {'cold' if cold else 'warm':6} "
                  f"{first + (f' ({missing} never)' if missing else ''):32} {dark}")
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
