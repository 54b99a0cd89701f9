"""The live engine on JACK's dummy driver: callbacks with no underruns in a player process of their own,
sound that changes smoothly, a killed worker or player that comes back while the show goes on."""

import os
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine.mix.engine import AudioEngine
from engine.settings.config import Config
from engine.settings.scenes import LayerSettings, Scene, SoundSettings, load_scene

from conftest import SCENES

pytestmark = pytest.mark.jack


def jack_config(**audio):
    import sounddevice as sd

    from engine.mix.stream import find_output

    index = find_output("JACK")
    rate = int(sd.query_devices(index)["default_samplerate"])
    return replace(Config(), audio=replace(Config().audio, device=str(index), samplerate=rate, **audio))


def leaves(fade=0.5):
    layer = LayerSettings(source="rustle", gain=0.8, density=3.0, distance=0.1)
    return Scene(sound=SoundSettings(master=1.0, fade=fade, layers={"leaves": layer}), name="leaves")


class Listener:
    """A tap that keeps each block's level, by the block's first frame."""

    def __init__(self):
        self.blocks = []

    def __call__(self, block, frame):
        self.blocks.append((frame, float(np.abs(block).max())))

    def levels_since(self, index):
        return [level for _, level in self.blocks[index:]]


@pytest.fixture
def engine():
    engines = []

    def make(scene, **audio):
        engines.append(AudioEngine(jack_config(**audio), scene, seed=1))
        return engines[-1]

    yield make
    for e in engines:
        e.stop()


def test_callbacks_run_with_no_underruns_and_sound_reaches_the_tap(engine):
    audio = engine(load_scene(SCENES / "dawn.toml"))
    heard = Listener()
    audio.add_tap(heard)
    audio.start()
    time.sleep(3.0)
    stats = audio.stats
    assert stats["callbacks"] >= 200                   # ~94 a second at 512 / 48 kHz
    assert stats["underruns"] == 0 and stats["callback_errors"] == 0
    assert 0 < stats["callback_ms_p50"] <= stats["callback_ms_p99"]
    frames = [f for f, _ in heard.blocks]
    assert frames == list(range(0, 512 * len(frames), 512))   # every block, in order
    assert max(heard.levels_since(0)) > 1e-3
    assert audio.player.pid not in (None, os.getpid())  # the callback has a process (and a GIL) of its own
    player, worker = (os.getpriority(os.PRIO_PROCESS, pid) for pid in (audio.player.pid, audio.host.child.pid))
    assert worker > player  # when cores are short, the player goes first


def busy_python(stop):
    x = 0
    while not stop.is_set():
        x += 1


def test_a_busy_python_thread_in_the_show_does_not_reach_the_callback(engine):
    audio = engine(leaves())
    audio.start()
    time.sleep(1.5)                                    # the layer fades in, the ring fills
    before = audio.stats
    stop = threading.Event()
    thread = threading.Thread(target=busy_python, args=(stop,))
    thread.start()                                     # holds the show's GIL whenever it runs
    try:
        time.sleep(3.0)
    finally:
        stop.set()
        thread.join()
    stats = audio.stats
    assert stats["callbacks"] - before["callbacks"] >= 3.0 * 48000 / 512 * 0.9
    # In the show's own process the same thread cost hundreds of underruns (docs/benchmarks.md, Audio).
    assert stats["underruns"] == before["underruns"] and stats["ring_starved"] == 0


def test_mute_fades_to_silence_and_a_scene_change_crossfades(engine):
    audio = engine(leaves(fade=0.3))
    heard = Listener()
    audio.add_tap(heard)
    audio.start()
    time.sleep(1.5)
    audio.board.set_mute(True)
    time.sleep(0.3)
    mark = len(heard.blocks)
    time.sleep(0.3)
    assert max(heard.levels_since(mark)) == 0.0       # silence after the 50 ms ramp
    audio.board.set_mute(False)
    time.sleep(0.5)
    mark = len(heard.blocks)
    audio.set_scene(load_scene(SCENES / "rain.toml"))  # rain: its own rustle, fading in over 6 s
    time.sleep(1.0)
    assert set(audio.board.layers) == {"rain", "frogs", "geckos"}
    assert [p.name for p in audio.board.leaving] == ["leaves"]   # still fading out
    assert min(heard.levels_since(mark)) > 0.0        # no gap in the crossfade
    assert audio.stats["ring_starved"] == 0           # the scene change starved no layer


def test_a_killed_worker_is_restarted_while_the_sound_goes_on(engine):
    audio = engine(leaves())
    heard = Listener()
    audio.add_tap(heard)
    audio.start()
    deadline = time.monotonic() + 20
    while audio.rings.ahead(audio.board.layers["leaves"].slot) < audio.ahead and time.monotonic() < deadline:
        time.sleep(0.05)                               # the ring is full: two seconds on hand
    time.sleep(0.5)
    mark = len(heard.blocks)
    starved = audio.stats["ring_starved"]
    os.kill(audio.host.pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while audio.stats["worker_restarts"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(2.5)                                    # past what the ring held when it died
    stats = audio.stats
    assert stats["worker_restarts"] == 1
    levels = heard.levels_since(mark)
    assert len(levels) > 3.0 * 48000 / 512 * 0.9
    assert min(levels) > 0.0 and stats["ring_starved"] == starved   # never ran dry, never went silent
    assert stats["underruns"] == 0


def test_stop_leaves_no_file_descriptors_behind(engine):
    def one_run():
        audio = engine(leaves())
        audio.start()
        time.sleep(0.5)
        audio.stop()

    def open_files():
        targets = {}
        for fd in os.listdir("/proc/self/fd"):
            try:
                targets[fd] = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:                                # closed while we looked
                pass
        return targets

    one_run()                                          # PortAudio and the fork server open theirs once
    before = open_files()
    for _ in range(3):
        one_run()
    deadline = time.monotonic() + 2
    while len(open_files()) > len(before) and time.monotonic() < deadline:
        time.sleep(0.1)                                # a descriptor of the last stop may close a moment late
    # A leak grows with every run: three runs leave three more. One stray descriptor (another thread of the
    # test process opening a file meanwhile) is not a leak of ours.
    after = open_files()
    assert len(after) < len(before) + 3, {fd: t for fd, t in after.items() if before.get(fd) != t}


def test_a_killed_player_is_restarted_and_the_sound_comes_back(engine):
    audio = engine(leaves())
    heard = Listener()
    audio.add_tap(heard)
    audio.start()
    time.sleep(1.5)
    os.kill(audio.player.pid, signal.SIGKILL)          # as if PortAudio crashed the process
    deadline = time.monotonic() + 20
    while audio.stats["player_restarts"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    before = audio.stats["callbacks"]
    mark = len(heard.blocks)
    time.sleep(1.5)
    stats = audio.stats
    assert stats["player_restarts"] == 1 and stats["callbacks"] > before + 50
    frames = [f for f, _ in heard.blocks[mark:]]
    assert frames == list(range(frames[0], frames[0] + 512 * len(frames), 512))  # counts on, in order
    assert max(heard.levels_since(mark + 20)) > 1e-3  # the same layer, heard again
