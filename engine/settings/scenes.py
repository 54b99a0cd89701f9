"""Scenes: one TOML file per scene in scenes/, validated like config.toml.

A scene says what the picture and the sound do. The file's stem is the scene's name. The format is
documented in docs/scenes.md; `load_scene` raises SettingsError naming the file, the key, what was expected
and what was found, so a broken file can be reported while the current scene keeps playing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from engine.paths import safe_child
from engine.postcards.retrace import MODES as RETRACE_MODES
from engine.postcards.schedulers import SCHEDULERS
from engine.settings.schema import SettingsError, build, field, read_toml
from engine.sound.voices import SYNTH_VOICES

SOURCES = SYNTH_VOICES + ("stable-audio",)
QUANTISE = ("off", "beat", "bar")
# What the picture reacts to and what it moves (engine/picture/react.py, docs/music.md).
FEATURES = ("level", "onset", "low", "mid", "high")
CURVES = ("linear", "square", "sqrt", "smooth")
# target: (lowest, highest, value without a mapping, what it does); `next` is a trigger, not a value
REACT_TARGETS = {
    "brightness": (0.0, 1.0, 1.0, "picture brightness: 1 as painted, 0 black (the scene's black comes on top)"),
    "drift": (0.0, 10.0, 1.0, "pace of the slow pan: 1 its usual pace, 0 still"),
    "zoom": (0.0, 0.5, 0.0, "zoom into the picture: 0 none, 0.5 half again as large"),
    "progress": (0.0, 10.0, 1.0, "pace of a transition under way: 1 its usual pace, 0 held"),
}
TRIGGER = "next"


@dataclass(frozen=True)
class ReactMapping:
    source: str = field("off", "the feature of the mix that drives the target", choices=("off",) + FEATURES)
    low: float | None = field(None, "the target's value when the feature is 0 (default: its lowest)")
    high: float | None = field(None, "the target's value when the feature is 1 (default: its highest)")
    curve: str = field("linear", "how the feature bends: linear, square (quiet stays quiet), sqrt (quiet "
                       "moves it), smooth (gentle at both ends)", choices=CURVES)
    threshold: float = field(0.5, "next: the feature's value that brings the next postcard", min=0.0, max=1.0)


@dataclass(frozen=True)
class VisualSettings:
    model: str = field("default", "model folder name in models/, or a path")
    scheduler: str = field("dpmsolver++", "few-step sampler", choices=SCHEDULERS)
    steps: int = field(20, "sampler steps per postcard", min=1, max=1000)
    hold: float = field(8.0, "seconds a postcard stays before the next one comes in", min=0.1, max=3600.0)
    crossfade: float = field(3.0, "seconds a crossfade takes", min=0.0, max=600.0)
    easing: str = field("smoothstep", "crossfade curve", choices=("linear", "smoothstep", "cosine"))
    transition: str = field("crossfade", "how a new postcard arrives: crossfade, reveal (out of noise), or "
                            "morph (grown out of the one before)", choices=("crossfade", "reveal", "morph"))
    dream: bool = field(False, "new postcards are dreams of the one before (zoomed, partly re-noised, repainted)")
    quantise: str = field("off", "postcard and scene changes wait for the next beat or bar", choices=QUANTISE)
    drift: float = field(0.04, "slow zoom/pan over a postcard's life (0 = still)", min=0.0, max=0.5)
    frame: str = field("letterbox", "fit: letterbox (whole postcard), fill (crop to the window), "
                       "postcard (white border and shadow)", choices=("letterbox", "fill", "postcard"))
    black: float = field(0.0, "fade to black (0 = full picture, 1 = black)", min=0.0, max=1.0)
    retrace: float = field(0.0, "retrace the hidden animal over the postcard (0 = off, 1 = full); for models "
                           "that paint its mask", min=0.0, max=1.0)
    retrace_mode: str = field("outline", "how: outline (its contour drawn), spotlight (the rest darkened) or "
                              "uncamouflage (its colours and contrast raised)", choices=RETRACE_MODES)
    seed: int = field(-1, "first seed for this scene; -1 = keep counting", min=-1)
    react: dict[str, ReactMapping] = field({}, "features of the mix mapped onto picture parameters: "
                                           "[visual.react.TARGET] tables")


@dataclass(frozen=True)
class LayerSettings:
    source: str = field("birds", "a synth voice, or stable-audio (a loop made from a prompt)", choices=SOURCES)
    gain: float = field(0.5, "layer gain", min=0.0, max=2.0)
    mute: bool = field(False, "start muted")
    density: float = field(1.0, "how often the voice's events happen (multiplier)", min=0.0, max=10.0)
    pitch: float = field(1.0, "pitch multiplier on the voice's range", min=0.25, max=4.0)
    distance: float = field(0.3, "0 = close and dry, 1 = far, dark and reverberant", min=0.0, max=1.0)
    spread: float = field(0.7, "stereo width of the voice's events", min=0.0, max=1.0)
    prompt: str = field("", "stable-audio: the text prompt (default: the artist's jungle prompt)")
    seed: int = field(0, "seed for this layer's randomness", min=0)


@dataclass(frozen=True)
class SoundSettings:
    master: float = field(0.8, "scene gain", min=0.0, max=2.0)
    fade: float = field(4.0, "seconds the sound crossfades when this scene comes in", min=0.0, max=120.0)
    layers: dict[str, LayerSettings] = field({}, "named layers: [sound.layers.NAME] tables")


@dataclass(frozen=True)
class Scene:
    description: str = field("", "one line for people")
    visual: VisualSettings = field(VisualSettings(), "the picture")
    sound: SoundSettings = field(SoundSettings(), "the sound")
    name: str = field("", "set from the file name by the loader")


# The default scene: all six voices the artist's prompt names, leaves and birds in front.
DEFAULT_LAYERS = {
    "leaves": LayerSettings(source="rustle", gain=0.7, density=1.0, distance=0.2, spread=0.9),
    "birds": LayerSettings(source="birds", gain=0.8, density=1.0, distance=0.35),
    "owls": LayerSettings(source="owls", gain=0.8, density=0.8, distance=0.8),
    "geckos": LayerSettings(source="geckos", gain=0.6, density=1.0, distance=0.4),
    "frogs": LayerSettings(source="frogs", gain=0.7, density=1.0, distance=0.6),
    "butterflies": LayerSettings(source="butterflies", gain=1.0, density=1.0, distance=0.1, spread=0.5),
}


def load_scene(path: Path) -> Scene:
    """Load and validate one scene file."""
    path = Path(path)
    data = read_toml(path, folder=path.parent)
    if "name" in data:
        raise SettingsError([f"{path}: name: unknown key (the file name is the scene's name)"])
    scene = build(Scene, data, str(path))
    bad = [f"{path}: sound.layers.{n}: expected a name of letters, digits, '-' or '_', found {n!r}"
           for n in scene.sound.layers if not n.replace("-", "").replace("_", "").isalnum()]
    bad += react_problems(scene.visual.react, f"{path}: visual.react")
    if bad:
        raise SettingsError(bad)
    return replace(scene, name=path.stem)


def react_problems(react: dict[str, ReactMapping], where: str) -> list[str]:
    """A mapping's target must be known and its low/high inside the target's range."""
    problems = []
    for target, mapping in react.items():
        if target not in REACT_TARGETS and target != TRIGGER:
            problems.append(f"{where}.{target}: expected one of {', '.join([*REACT_TARGETS, TRIGGER])}")
            continue
        lowest, highest = REACT_TARGETS.get(target, (0.0, 1.0))[:2]
        for key in ("low", "high"):
            value = getattr(mapping, key)
            if value is not None and not lowest <= value <= highest:
                problems.append(f"{where}.{target}.{key}: expected a value between {lowest} and {highest}, "
                                f"found {value}")
    return problems


def scene_path(folder: Path, name: str) -> Path:
    """The file of scene `name` in `folder`; a name from outside never escapes the folder."""
    return safe_child(folder, name, suffix=".toml", what="scene")


def scene_names(folder: Path) -> list[str]:
    return sorted(p.stem for p in Path(folder).glob("*.toml"))


def load_all(folder: Path) -> tuple[dict[str, Scene], list[str]]:
    """Every scene in `folder`: (good scenes by name, problems of the broken ones)."""
    scenes, problems = {}, []
    for name in scene_names(folder):
        try:
            scenes[name] = load_scene(Path(folder) / f"{name}.toml")
        except SettingsError as e:
            problems.extend(e.problems)
    return scenes, problems
