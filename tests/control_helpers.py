"""Shared by the control tests and bench/control.py (its one copy): a real Show driven by a frame loop, free
ports, waiting."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import time
from pathlib import Path

from engine.settings.config import Config, load_config
from engine.show.state import Show

from conftest import PROJECT, SCENES


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def control_config(tmp: Path, **sections) -> Config:
    """The project's config with fresh ports, state in `tmp`, and `sections` (e.g. osc={...}) replaced."""
    config = load_config(PROJECT / "config.toml")
    config = dataclasses.replace(
        config, paths=dataclasses.replace(config.paths, state=str(tmp / "state"), logs=str(tmp / "logs"),
                                          scenes=str(SCENES)),
        osc=dataclasses.replace(config.osc, port=free_port()),
        oscquery=dataclasses.replace(config.oscquery, port=free_port(socket.SOCK_STREAM)))
    for name, changes in sections.items():
        config = dataclasses.replace(config, **{name: dataclasses.replace(getattr(config, name), **changes)})
    return config


@contextlib.contextmanager
def running_show(config: Config, fps: float = 200.0):
    """A Show whose update() runs on a frame-loop thread (as the perform loop does), stopped on exit."""
    show = Show(config, scene="dawn")
    stop = threading.Event()

    def frames():
        while not stop.is_set():
            show.update(time.monotonic())
            stop.wait(1 / fps)

    thread = threading.Thread(target=frames, name="frames", daemon=True)
    thread.start()
    try:
        yield show
    finally:
        stop.set()
        thread.join(timeout=5)


def wait_for(predicate, timeout: float = 5.0, step: float = 0.005) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
