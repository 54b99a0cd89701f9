"""Engine settings: config.toml loaded into typed, validated, frozen dataclasses.

Every key is documented twice on purpose: the description here feeds error messages and docs; the comment
in config.toml is what a person edits next to. `load_config()` raises SettingsError listing every problem.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from engine.settings.schema import SettingsError, build, field, read_toml

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # engine/settings/config.py -> the project
DEFAULT_CONFIG = PROJECT_ROOT / "config.toml"


@dataclass(frozen=True)
class DisplaySettings:
    size: tuple[int, int] = field((1280, 720), "window size in pixels (windowed mode)", min=16, max=16384)
    fullscreen: bool = field(False, "open fullscreen")
    display: int = field(0, "monitor index for fullscreen", min=0, max=16)
    fps: int = field(60, "frames per second the renderer paces to", min=1, max=240)
    vsync: bool = field(True, "sync to the monitor's refresh where the driver allows")
    renderer: str = field("surface", "how frames are drawn", choices=("surface", "sdl2"))
    headless: bool = field(False, "no window at all (SDL dummy driver): servers and tests")


@dataclass(frozen=True)
class AudioSettings:
    enabled: bool = field(True, "play sound at all")
    device: str = field("", "sounddevice output device name (substring) or index; '' = system default; "
                            "'none' = no speakers (the mix still runs, for recordings)")
    samplerate: int = field(48000, "sample rate in Hz", min=8000, max=192000)
    blocksize: int = field(512, "frames per audio callback", min=32, max=8192)
    latency: str = field("high", "sounddevice latency: 'low', 'high' or seconds as text ('0.05')")
    master: float = field(0.8, "master gain", min=0.0, max=2.0)
    ahead_seconds: float = field(2.0, "how much sound the soundscape worker keeps ready", min=0.2, max=30.0)


@dataclass(frozen=True)
class OscSettings:
    enabled: bool = field(True, "listen for OSC over UDP")
    host: str = field("127.0.0.1", "address to listen on; 0.0.0.0 opens it to the network")
    port: int = field(9000, "UDP port", min=1, max=65535)
    feedback_host: str = field("", "send every change here; '' = back to the sender")
    feedback_port: int = field(0, "feedback UDP port; 0 = the sender's own port", min=0, max=65535)
    allow: list[str] = field([], "sender networks allowed (CIDR, e.g. '192.168.1.0/24'); empty = any")
    hostnames: list[str] = field([], "names OSCQuery and the web face answer to besides addresses, localhost and "
                                     "this machine's own names (a DNS name the show is reached by)")
    deny: list[str] = field([], "addresses OSC may not reach, e.g. ['/show/quit', '/record/']: keys and MIDI "
                            "still can; one ending in / covers all under it")


@dataclass(frozen=True)
class OscQuerySettings:
    enabled: bool = field(True, "serve the OSCQuery HTTP/JSON tree")
    port: int = field(9001, "HTTP port (on the same interface as OSC)", min=1, max=65535)
    zeroconf: bool = field(False, "advertise _oscjson._tcp over zeroconf (needs the zeroconf extra)")


@dataclass(frozen=True)
class WebSettings:
    enabled: bool = field(False, "serve the web face: the live picture and a control surface in a browser")
    port: int = field(9002, "HTTP port (on the same interface as OSC)", min=1, max=65535)
    read_only: list[str] = field(["/show/quit", "/midi/learn"],
                                 "addresses the page shows but may not change; one ending in / covers all under it")
    picture_width: int = field(960, "width of the page's live picture in pixels", min=64, max=3840)
    picture_fps: int = field(15, "live pictures a second to the page", min=1, max=60)
    picture_quality: int = field(80, "JPEG quality of the page's live picture", min=10, max=95)


@dataclass(frozen=True)
class NdiSettings:
    enabled: bool = field(False, "send the canvas and the mix as an NDI source (needs the `ndi` extra)")
    name: str = field("Postcards from my Jungle", "the NDI source's name, as receivers list it")


@dataclass(frozen=True)
class MidiMapping:
    address: str = field("", "the control address this drives, e.g. /audio/master")
    cc: int = field(-1, "controller number (0-127); -1 when this maps a note", min=-1, max=127)
    note: int = field(-1, "note number (0-127); -1 when this maps a CC", min=-1, max=127)
    channel: int = field(-1, "MIDI channel 0-15; -1 = any", min=-1, max=15)
    low: float | None = field(None, "the value at 0 (CC value or note velocity); default: the control's lowest")
    high: float | None = field(None, "the value at 127; default: the control's highest (low > high inverts)")


@dataclass(frozen=True)
class MidiSettings:
    enabled: bool = field(False, "listen to a MIDI input")
    input: str = field("", "input port name, or a regular expression matched against port names")
    backend: str = field("", "mido backend, e.g. 'mido.backends.rtmidi/UNIX_JACK'; '' = mido's default")
    learn_file: str = field("midi-learned.toml", "where MIDI learn saves bindings (in paths.state)")
    map: list[MidiMapping] = field([], "CC/note bindings: [[midi.map]] tables")


@dataclass(frozen=True)
class TempoSettings:
    bpm: float = field(120.0, "the show's tempo until something sets it", min=20.0, max=300.0)
    quantum: int = field(4, "beats in a bar", min=1, max=16)
    link: bool = field(False, "join the Ableton Link session on the network (needs the `link` extra)")
    midi_clock: bool = field(True, "follow MIDI clock and start/stop on the MIDI input (when [midi] is enabled)")


@dataclass(frozen=True)
class ReactSettings:
    attack: float = field(0.01, "seconds the mix's features take to rise", min=0.0, max=10.0)
    release: float = field(0.1, "seconds they take to fall (an onset fades over this)", min=0.0, max=10.0)


@dataclass(frozen=True)
class SamplerSettings:
    device: str = field("auto", "torch device: auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, mps")
    threads: int = field(0, "torch threads on CPU; 0 = cores - 1 so rendering and audio keep a core",
                         min=0, max=256)
    queue: int = field(6, "finished postcards kept ready", min=1, max=256)
    batch: int = field(1, "postcards per sampler call", min=1, max=256)
    seed: int = field(-1, "first seed; -1 = from the clock", min=-1)
    standby: bool = field(True, "keep a second worker ready with torch loaded (~0.3 GB): a new postcard within "
                          "seconds when the first dies, not after a fresh start")


@dataclass(frozen=True)
class RecordingSettings:
    size: tuple[int, int] = field((1280, 720), "video size in pixels", min=16, max=8192)
    fps: int = field(30, "video frames per second", min=1, max=120)
    preset: str = field("veryfast", "libx264 preset",
                        choices=("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"))
    crf: int = field(20, "libx264 quality (lower is better, 18-28 is sensible)", min=0, max=51)
    audio_bitrate: int = field(192000, "AAC bitrate in bit/s", min=32000, max=512000)
    queue: int = field(60, "frames the encoder may fall behind before it drops (and counts) frames",
                       min=1, max=10000)
    max_seconds: float = field(0.0, "stop a recording after this many seconds; 0 = no limit", min=0.0)
    max_bytes: int = field(0, "stop a recording when its file is this large; 0 = no limit", min=0)


@dataclass(frozen=True)
class ScheduleEntry:
    at: str = field("00:00", "local time of day HH:MM when this scene starts")
    scene: str = field("", "scene name (a file in scenes/ without .toml)")


@dataclass(frozen=True)
class ShowSettings:
    scene: str = field("dawn", "scene to start with")
    schedule: list[ScheduleEntry] = field([], "scenes by time of day: [[show.schedule]] tables")


@dataclass(frozen=True)
class PathSettings:
    models: str = field("models", "trained models (relative paths are from the project root)")
    scenes: str = field("scenes", "scene TOML files, watched while performing")
    recordings: str = field("recordings", "where recordings go when no path is given")
    logs: str = field("logs", "rotating log files")
    state: str = field("state", "small files the engine writes (MIDI learn)")


@dataclass(frozen=True)
class LoggingSettings:
    level: str = field("INFO", "console and file level", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    file: str = field("postcards.log", "log file name in paths.logs; '' = no file")
    max_bytes: int = field(5_000_000, "rotate the log file at this size", min=10_000)
    backups: int = field(5, "rotated files kept", min=0, max=100)


@dataclass(frozen=True)
class Config:
    display: DisplaySettings = field(DisplaySettings(), "the window")
    audio: AudioSettings = field(AudioSettings(), "the sound output")
    osc: OscSettings = field(OscSettings(), "OSC control")
    oscquery: OscQuerySettings = field(OscQuerySettings(), "OSCQuery discovery")
    web: WebSettings = field(WebSettings(), "the web face")
    midi: MidiSettings = field(MidiSettings(), "MIDI control")
    tempo: TempoSettings = field(TempoSettings(), "tempo: Link, MIDI clock, tap")
    react: ReactSettings = field(ReactSettings(), "the features of the mix the picture reacts to")
    sampler: SamplerSettings = field(SamplerSettings(), "the background postcard sampler")
    recording: RecordingSettings = field(RecordingSettings(), "recording and offline rendering")
    ndi: NdiSettings = field(NdiSettings(), "NDI output")
    show: ShowSettings = field(ShowSettings(), "what plays")
    paths: PathSettings = field(PathSettings(), "folders")
    logging: LoggingSettings = field(LoggingSettings(), "logs")
    source: str = field("<defaults>", "where these settings came from", by_loader=True)
    root: str = field(str(PROJECT_ROOT), "folder relative paths are resolved from", by_loader=True)

    def path(self, name: str) -> Path:
        """An absolute folder from [paths], e.g. config.path('models')."""
        p = Path(getattr(self.paths, name)).expanduser()
        return p if p.is_absolute() else Path(self.root) / p


def load_config(path: str | Path | None = None) -> Config:
    """Load and validate config.toml (the project's own when `path` is None)."""
    path = Path(path) if path is not None else DEFAULT_CONFIG
    data = read_toml(path)
    config = build(Config, data, str(path))
    # Relative paths in a config file are read from the folder the file lies in.
    config = replace(config, source=str(path), root=str(path.resolve().parent))
    _check_relations(config)
    return config


def _check_relations(config: Config) -> None:
    """Checks that one field alone cannot express."""
    problems = []
    for i, m in enumerate(config.midi.map):
        if (m.cc < 0) == (m.note < 0):
            problems.append(f"{config.source}: midi.map[{i}]: expected exactly one of cc or note, "
                            f"found cc={m.cc}, note={m.note}")
        if not m.address.startswith("/"):
            problems.append(f"{config.source}: midi.map[{i}].address: expected an address like "
                            f"'/audio/master', found {m.address!r}")
    for i, entry in enumerate(config.show.schedule):
        hh, _, mm = entry.at.partition(":")
        if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60 and len(mm) == 2):
            problems.append(f"{config.source}: show.schedule[{i}].at: expected a time HH:MM, found {entry.at!r}")
    if problems:
        raise SettingsError(problems)
