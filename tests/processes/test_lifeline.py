"""Children end with their parent and a new start cleans what a dead show left (issue 16, class 5): a real
`postcards perform --headless` (sampler, soundscape worker, player, fork server, resource tracker) is
killed with -9; no child may outlive it, and the next show removes its shared-memory blocks and semaphores."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine.processes.shared import PREFIX, SHM, SharedArrays, clean_leftovers
from conftest import PROJECT, WAIT, write_config

NEXT_START = "from engine.processes.shared import SharedArrays; SharedArrays({'x': ((1,), 'int64')}).close()"


def descendants(pid: int) -> set[int]:
    children = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for a reaper that may not be ours)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def mapped_shm(pids) -> set[str]:
    paths = set()
    for pid in pids:
        try:
            paths.update(line.split(None, 5)[5].strip() for line in open(f"/proc/{pid}/maps") if "/dev/shm/" in line)
        except (OSError, IndexError):
            pass
    return {Path(p).name for p in paths}


def test_kill_9_of_the_show_leaves_no_child_and_the_next_start_cleans_its_memory(tmp_path, tiny_model):
    config = write_config(tmp_path, tiny_model, audio='enabled = true\ndevice = "none"')
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "PYTHONUNBUFFERED": "1"}
    with open(tmp_path / "show.log", "w") as log:
        show = subprocess.Popen([sys.executable, "-m", "engine", "--config", str(config), "perform", "--headless"],
                                stderr=log, env=env)
    try:
        deadline = time.monotonic() + WAIT  # resource tracker, sampler, fork server, soundscape worker, player
        while len(descendants(show.pid)) < 5 and show.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        children = descendants(show.pid)
        names = {Path(f"/proc/{pid}/comm").read_text().strip() for pid in children if running(pid)}
        segments = mapped_shm({show.pid, *children})
        assert len(children) >= 5, (names, (tmp_path / "show.log").read_text()[-2000:])
        assert any(name.startswith(f"{PREFIX}{show.pid}-") for name in segments), segments
        show.kill()
        show.wait()
    finally:
        if show.poll() is None:
            show.kill()
            show.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(running(pid) for pid in children):
        time.sleep(0.1)
    left = [pid for pid in children if running(pid)]
    try:
        assert not left, f"children outlived the show: {[Path(f'/proc/{p}/cmdline').read_bytes()[:80] for p in left]}"
    finally:
        for pid in left:
            os.kill(pid, signal.SIGKILL)
    # Its blocks and its queues' semaphores go with the next start's first block (a new process).
    ours = [name for name in segments if name.startswith((PREFIX, "sem.mp-"))]
    assert any(name.startswith("sem.mp-") for name in ours), segments
    subprocess.run([sys.executable, "-c", NEXT_START], check=True, cwd=PROJECT)
    assert not [name for name in ours if (SHM / name).exists()]


def test_blocks_of_live_processes_stay_and_blocks_of_dead_ones_go(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = SHM / f"{PREFIX}{int(dead.stdout)}-0"
    stale.write_bytes(b"\0" * 64)
    mine = SharedArrays({"x": ((4,), "int64")})
    try:
        assert mine.name.startswith(f"{PREFIX}{os.getpid()}-")
        clean_leftovers()  # (creating `mine` may have done it already: the first block of a process does)
        assert not stale.exists() and (SHM / mine.name).exists()
        name = mine.name
    finally:
        mine.close()
        stale.unlink(missing_ok=True)
    assert not (SHM / name).exists()
