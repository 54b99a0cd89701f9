"""The live sound: the mixer, the soundscape worker, the sounddevice stream (docs/sound.md, Live audio)."""

from engine.audio.live import AudioEngine
from engine.audio.offline import OfflineAudio

__all__ = ["AudioEngine", "OfflineAudio"]
