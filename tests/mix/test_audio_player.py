"""The player: the callback mixes the rings as the board says, counts and times itself, feeds the tap;
as a process of its own (here with no speakers, so no sound server is needed) it is restarted when it
dies or hangs."""

import os
import signal
import time
from dataclasses import replace

import numpy as np
import sounddevice as sd

from engine.mix.engine import AudioEngine
from engine.mix.mixer import Mixer
from engine.mix.player import CALLBACKS, FRAME, TIMINGS, Player, player_layout
from engine.mix.ring import EPOCH, Rings
from engine.processes.shared import SharedArrays
from engine.mix.tap import Taps
from engine.settings.config import AudioSettings, Config
from engine.settings.scenes import LayerSettings, Scene, SoundSettings

SETTINGS = AudioSettings(device="none", samplerate=48000, blocksize=256)
SLOTS, TAP_BLOCKS, CAPACITY = 4, 8, 48000


def test_the_callback_mixes_what_the_board_opened_and_counts_and_taps_each_block():
    shared = SharedArrays(player_layout(SLOTS, 256, TAP_BLOCKS))
    attached = SharedArrays(player_layout(SLOTS, 256, TAP_BLOCKS), shared.name)  # the player's view
    rings = Rings(SLOTS, CAPACITY)
    try:
        board_side = Mixer(SLOTS, 48000, 256, master=0.5, shared=shared)
        player = Player(SETTINGS, attached, rings, high_water=8192)
        heard = []
        show_taps = Taps(256, TAP_BLOCKS, shared)
        show_taps.add(lambda block, frame: heard.append((frame, float(block[-1, 0]))))
        rings.header[3, EPOCH] = 2
        rings.write(3, np.full((20000, 2), 0.4, np.float32))      # the worker's part, done by hand
        board_side.open_slot(3, 2, None, 1.0, fade_seconds=0.0)
        out = np.zeros((256, 2), np.float32)
        for _ in range(40):
            player.callback(out, 256, None, sd.CallbackFlags())
            show_taps.drain_once()
        assert out[-1, 0] == np.float32(0.4 * 0.5)                # the ring, at the board's master
        assert shared.stats[CALLBACKS] == 40 and shared.stats[FRAME] == 40 * 256
        assert [f for f, _ in heard] == list(range(0, 40 * 256, 256)) and heard[-1][1] > 0.19
        assert 0 < shared.timings[:40].min() and not shared.timings[40:TIMINGS].any()
    finally:
        rings.close()
        attached.close()
        shared.close()


def no_speakers():
    layer = LayerSettings(source="rustle", gain=0.8, density=3.0)
    scene = Scene(sound=SoundSettings(master=1.0, fade=0.2, layers={"leaves": layer}), name="leaves")
    return AudioEngine(replace(Config(), audio=replace(Config().audio, device="none")), scene, seed=1)


def wait_for(condition, seconds=20.0):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def test_a_hung_player_is_killed_and_restarted_and_the_mix_goes_on():
    audio = no_speakers()
    levels = []
    audio.add_tap(lambda block, frame: levels.append(float(np.abs(block).max())))
    audio.start()
    try:
        assert wait_for(lambda: audio.stats["callbacks"] > 100 and max(levels, default=0) > 1e-3)
        audio.player.watch.hung_seconds = 0.5
        os.kill(audio.player.pid, signal.SIGSTOP)                 # alive, but does nothing
        assert wait_for(lambda: audio.stats["player_restarts"] == 1)
        before = audio.stats["callbacks"]
        mark = len(levels)
        assert wait_for(lambda: audio.stats["callbacks"] > before + 100)
        assert max(levels[mark:]) > 1e-3                          # the same layer, from the same rings
    finally:
        audio.stop()
    assert audio.stats["callback_errors"] == 0 and audio.stats["player_restarts"] == 1
