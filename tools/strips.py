"""The picture strips of docs/music.md, from short offline renders with the shipped model:

    .venv/bin/python tools/strips.py react   # docs/assets/react-strip.png: frogs; brightness and zoom follow
    .venv/bin/python tools/strips.py morph   # docs/assets/morph-strip.png: one postcard grows into the next
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import av
import numpy as np
import soundfile
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.perform.offline import render_show  # noqa: E402
from engine.settings.config import load_config  # noqa: E402

SCENE = """
description = "docs: frogs and birds; brightness breathes with the level, each onset pushes the zoom"
[visual]
model = "{model}"
scheduler = "dpmsolver++"
steps = 12
hold = 100.0
crossfade = 0.0
drift = 0.0
frame = "fill"
[visual.react.brightness]
source = "level"
low = 0.15
high = 1.0
curve = "sqrt"
[visual.react.zoom]
source = "onset"
low = 0.0
high = 0.08
[sound]
fade = 0.0
master = 1.0
[sound.layers.frogs]
source = "frogs"
gain = 1.0
distance = 0.0
[sound.layers.birds]
source = "birds"
gain = 0.5
distance = 0.3
"""
MORPH_SCENE = """
description = "docs: a morph from one postcard to the next"
[visual]
model = "{model}"
scheduler = "dpmsolver++"
steps = 12
hold = 1.0
crossfade = 2.0
easing = "linear"
transition = "morph"
drift = 0.0
frame = "fill"
"""
FPS, SIZE, SECONDS, EVERY, SHOWN = 30, (160, 90), 8.0, 5, 12   # every 5th frame (1/6 s), 12 of them


def rendered(scene: str, seconds: float, size: tuple[int, int], fps: int) -> tuple[list, np.ndarray, int]:
    """The frames and the sound of `seconds` of `scene` (a scene file's text) rendered offline, seed 7."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "scenes").mkdir()
        (tmp / "scenes" / "strip.toml").write_text(scene.format(model=ROOT / "models" / "default"))
        (tmp / "config.toml").write_text('[recording]\npreset = "ultrafast"\n[paths]\nscenes = "scenes"\n')
        out = tmp / "strip.mp4"
        render_show(load_config(tmp / "config.toml"), scene="strip", duration=seconds, out=out, size=size,
                    fps=fps, seed=7, audio_path=tmp / "strip.wav", progress=False)
        with av.open(str(out)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        samples, rate = soundfile.read(tmp / "strip.wav", dtype="float64")
    return frames, samples, rate


def morph_strip(out: str) -> None:
    """The first morph (the hold timer brings it at 3 s, over 2 s), eleven frames from its start to its end."""
    frames, _, _ = rendered(MORPH_SCENE, 5.2, (128, 128), 10)
    Image.fromarray(np.concatenate(frames[30:52:2], axis=1)).save(out)
    print(f"{out}: frames 30..50 of a morph (3.0 to 5.0 s)")


def react_strip(out: str) -> None:
    """Twelve frames of the two seconds where the frogs' sound moves most, over the mix's level."""
    frames, samples, rate = rendered(SCENE, SECONDS, SIZE, FPS)
    per_frame = rate // FPS
    power = np.mean(samples[:len(frames) * per_frame].reshape(len(frames), per_frame, -1) ** 2, axis=(1, 2)) * 2
    level = np.clip((10 * np.log10(np.maximum(power, 1e-12)) + 60) / 60, 0, 1)
    # Show the two seconds where the sound moves most.
    length = EVERY * SHOWN
    first = max(range(1, len(frames) - length), key=lambda i: level[i:i + length].std())
    picked = list(range(first, first + EVERY * SHOWN, EVERY))
    w, h = SIZE
    graph = 70
    strip = Image.new("RGB", (w * SHOWN, h + graph + 18), (250, 248, 242))
    draw = ImageDraw.Draw(strip)
    for k, i in enumerate(picked):
        strip.paste(Image.fromarray(frames[i]), (k * w, 0))
        draw.text((k * w + 4, h + graph + 4), f"{i / FPS:.1f} s", fill=(60, 60, 60))
    # The mix's level over the same time (from the WAV), one point per video frame, under the pictures.
    span = range(first, picked[-1] + EVERY)
    xs = [(j - first + 0.5) * w / EVERY for j in span]
    ys = [h + graph - 4 - level[j] * (graph - 8) for j in span]
    draw.line(list(zip(xs, ys)), fill=(30, 110, 60), width=2)
    draw.text((4, h + 4), "level of the mix (from the WAV)", fill=(30, 110, 60))
    r = np.corrcoef([f.mean() for f in frames][1:], level[:-1])[0, 1]
    strip.save(out)
    print(f"{out}: frames {picked[0]}..{picked[-1]}; brightness vs level over {SECONDS:g} s: r = {r:.3f}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("strip", choices=("react", "morph"))
    parser.add_argument("--out", help="default: docs/assets/STRIP-strip.png")
    args = parser.parse_args(argv)
    out = args.out or str(ROOT / "docs" / "assets" / f"{args.strip}-strip.png")
    (react_strip if args.strip == "react" else morph_strip)(out)


if __name__ == "__main__":
    main()
