"""Make docs/assets/react-strip.png: a short offline render of rhythmic frogs whose brightness and zoom follow
the sound (docs/music.md), as a strip of frames over the mix's level.

    .venv/bin/python tools/react_strip.py [--out docs/assets/react-strip.png]
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
FPS, SIZE, SECONDS, EVERY, SHOWN = 30, (160, 90), 8.0, 5, 12   # every 5th frame (1/6 s), 12 of them


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "docs" / "assets" / "react-strip.png"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "scenes").mkdir()
        (tmp / "scenes" / "frogs.toml").write_text(SCENE.format(model=ROOT / "models" / "default"))
        (tmp / "config.toml").write_text('[recording]\npreset = "ultrafast"\n[paths]\nscenes = "scenes"\n')
        out = tmp / "frogs.mp4"
        render_show(load_config(tmp / "config.toml"), scene="frogs", duration=SECONDS, out=out, size=SIZE,
                    fps=FPS, seed=7, audio_path=tmp / "frogs.wav", progress=False)
        with av.open(str(out)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        samples, rate = soundfile.read(tmp / "frogs.wav", dtype="float64")
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
    strip.save(args.out)
    print(f"{args.out}: frames {picked[0]}..{picked[-1]}; brightness vs level over {SECONDS:g} s: r = {r:.3f}")


if __name__ == "__main__":
    main()
