"""The mixing board: scenes and control addresses turned into mixer slots and the voices behind them.

Shared by the live engine and offline rendering; `follow(show, sound)` routes the Show's changes to it. A scene change brings each new layer in on a free slot,
fading in over the scene's `fade`, while the old layers fade out over the same time and their slots are
freed once silent. A layer that both scenes have with the same voice (source, pitch, distance, spread,
prompt, seed) keeps playing; only its gain and density glide to the new scene's values.

The board does not make sound itself: a host starts and stops voices (live: the soundscape worker
process through shared-memory rings; offline: inline) and hands the mixer a feed for each slot (or None
when the mixer's audio side makes it: live). Host interface: start(slot, epoch, name, layer, seed) -> feed,
stop(slot), density(slot, value).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from engine.show.controls import CommandError
from engine.settings.scenes import LayerSettings, Scene

from engine.mix.mixer import FADE, Mixer
from engine.sound.sources import voice_seed

log = logging.getLogger(__name__)

STEAL_SECONDS = 0.05  # when every slot is busy, the quietest fading layer is hurried out this fast


@dataclass
class Playing:
    name: str
    layer: LayerSettings
    slot: int
    gain: float
    mute: bool
    density: float
    scene_gain: float

    def level(self) -> float:
        return 0.0 if self.mute else self.gain * self.scene_gain


def same_voice(a: LayerSettings, b: LayerSettings) -> bool:
    return (a.source, a.pitch, a.distance, a.spread, a.prompt, a.seed) == \
           (b.source, b.pitch, b.distance, b.spread, b.prompt, b.seed)


class Board:
    def __init__(self, mixer: Mixer, host, seed: int, master: float):
        self.mixer, self.host, self.seed = mixer, host, seed
        self.lock = threading.Lock()  # the control side's own: the audio callback never takes it
        self.layers: dict[str, Playing] = {}
        self.leaving: list[Playing] = []
        self.waiting: list[tuple[str, LayerSettings, float]] = []  # (name, layer, fade) for a free slot
        self.free = list(range(len(mixer.feeds)))
        self.generation = -1
        self.epoch = 0
        self.scene_fade = 0.0
        self.master, self.muted = float(master), False
        mixer.set_master(self.master, glide=False)  # the first scene fades in by itself; no master ramp on top

    def set_scene(self, scene: Scene) -> None:
        with self.lock:
            self.generation += 1
            fade, scene_gain = scene.sound.fade, scene.sound.master
            self.scene_fade = fade
            self.waiting.clear()
            for name, playing in list(self.layers.items()):
                new = scene.sound.layers.get(name)
                if new is not None and same_voice(playing.layer, new):
                    playing.layer, playing.gain, playing.mute, playing.density = new, new.gain, new.mute, new.density
                    playing.scene_gain = scene_gain
                    self.mixer.set_level(playing.slot, playing.level(), fade)
                    self.host.density(playing.slot, new.density)
                else:
                    del self.layers[name]
                    self._leave(playing, fade)
            for name, layer in scene.sound.layers.items():
                if name not in self.layers:
                    self._enter(name, layer, scene_gain, fade)

    def set_master(self, value: float) -> None:
        with self.lock:
            self.master = value
            self.mixer.set_master(0.0 if self.muted else self.master)

    def set_mute(self, on: bool) -> None:
        with self.lock:
            self.muted = on
            self.mixer.set_master(0.0 if self.muted else self.master)

    def set_layer(self, name: str, what: str, value) -> None:
        """A playing layer's `gain`, `mute` or `density` (the Show checked the address and the value)."""
        with self.lock:
            playing = self.layers.get(name)
            if playing is None:  # it waits for a free slot: the scene's value applies when it enters
                raise CommandError(f"/audio/layer/{name}/{what}: no layer {name!r} playing "
                                   f"(playing: {', '.join(self.layers) or 'none'})")
            setattr(playing, what, value)
            if what == "density":
                self.host.density(playing.slot, value)
            else:
                self.mixer.set_level(playing.slot, playing.level())

    def tick(self) -> None:
        """Free the slots of layers that have faded out; start layers that waited for a slot."""
        with self.lock:
            for playing in [p for p in self.leaving if self.mixer.faded_out(p.slot)]:
                self.leaving.remove(playing)
                self.mixer.close_slot(playing.slot)
                self.host.stop(playing.slot)
                self.free.append(playing.slot)
            waiting, self.waiting = self.waiting, []
            for name, layer, scene_gain in waiting:
                self._enter(name, layer, scene_gain, self.scene_fade)

    def _enter(self, name: str, layer: LayerSettings, scene_gain: float, fade: float) -> None:
        if not self.free:
            self._hurry_quietest()
            self.waiting.append((name, layer, scene_gain))
            return
        slot = self.free.pop(0)
        self.epoch += 1
        playing = Playing(name, layer, slot, layer.gain, layer.mute, layer.density, scene_gain)
        feed = self.host.start(slot, self.epoch, name, layer, voice_seed(self.seed, self.generation, name))
        self.mixer.open_slot(slot, self.epoch, feed, playing.level(), fade)
        self.layers[name] = playing

    def _leave(self, playing: Playing, fade: float) -> None:
        self.mixer.fade_to(playing.slot, 0.0, fade)
        self.leaving.append(playing)

    def _hurry_quietest(self) -> None:
        if not self.leaving:
            log.warning("every mixer slot carries a playing layer; a layer waits for one")
            return
        quietest = min(self.leaving, key=lambda p: self.mixer.current[FADE, p.slot])
        slot = quietest.slot
        seconds_left = self.mixer.current[FADE, slot] / (self.mixer.rate[FADE, slot] * self.mixer.samplerate)
        if seconds_left > STEAL_SECONDS * 1.01:  # not already hurrying
            log.info("many scene changes at once: layer %s fades out quickly to free a slot", quietest.name)
            self.mixer.fade_to(slot, 0.0, STEAL_SECONDS)


def follow(show, sound) -> None:
    """Route the Show's changes the mix hears to `sound` (AudioEngine or OfflineAudio, both with a
    `board` and `set_scene`): scene changes and the /audio/ addresses, each to its own handler."""
    show.on("/scene/name", lambda address, value, source: sound.set_scene(show.scene))
    show.on("/audio/master", lambda address, value, source: sound.board.set_master(value))
    show.on("/audio/mute", lambda address, value, source: sound.board.set_mute(value))
    show.on("/audio/layer/", lambda address, value, source: sound.board.set_layer(*address.split("/")[3:], value))
