"""Make a static gallery: postcards and soundscapes of every scene, on one page that opens with no server.

For each scene, `--n` postcards painted by the scene's own model and sampler (seed, model and scene under
each one) and a soundscape of the scene's synth layers, in `--out`: index.html, scene folders with PNG and
WAV files, everything linked by relative paths, nothing fetched from anywhere: the folder can be zipped,
mailed, or opened from a USB stick with a double click.

Examples:
  postcards gallery --out gallery/
  postcards gallery --out gallery/ --scenes dawn,night --n 8 --seconds 30 --seed 100
"""

from __future__ import annotations

import argparse
import html
import os
import shutil
from pathlib import Path

from engine.errors import UserError

MARKER = ".postcards-gallery"
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Postcards from my Jungle</title>
<style>
body {{ margin: 0; padding: 1em 2em; font: 15px/1.4 system-ui, sans-serif; background: #1b2418; color: #e8eadf; }}
h1 {{ font-weight: 600; }} h2 {{ color: #7fb069; margin-bottom: 0.2em; }}
.cards {{ display: flex; flex-wrap: wrap; gap: 1em; }}
figure {{ margin: 0; width: {size}px; }} figure img {{ width: 100%; border-radius: 3px; image-rendering: auto; }}
figcaption {{ font-size: 0.85em; color: #b9c2ad; }} audio {{ width: min(40em, 100%); margin: 0.3em 0 0.8em; }}
</style></head>
<body><h1>Postcards from my Jungle</h1>
{scenes}
</body></html>
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="the gallery's folder (made if needed)")
    parser.add_argument("--scenes", default="", help="comma-separated scene names (default: every scene)")
    parser.add_argument("--n", type=int, default=4, help="postcards per scene (default: 4)")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of soundscape per scene (default: 20)")
    parser.add_argument("--seed", type=int, default=0, help="first seed; postcard i of a scene uses seed + i")
    parser.add_argument("--size", type=int, default=256, help="postcards shown at PX x PX (default: 256)")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda, ... (default: [sampler] device)")


def run(args: argparse.Namespace) -> int:
    from engine.postcards.generate import check_positive, staging_folder

    check_positive("--n", args.n)
    check_positive("--size", args.size)
    if not args.seconds > 0:
        raise UserError(f"--seconds: expected more than 0, found {args.seconds:g}")
    scenes = chosen_scenes(args)
    out = Path(args.out)
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise UserError(f"--out {out}: expected an empty folder or an earlier gallery, found other files there")
    models: dict = {}  # scenes that share a model load it once
    with staging_folder(out) as staging:
        sections = [scene_section(args, scene, staging, models) for scene in scenes]
        (staging / "index.html").write_text(PAGE.format(size=args.size, scenes="\n".join(sections)),
                                            encoding="utf-8")
        (staging / MARKER).write_text("made by postcards gallery\n")
        for entry in sorted(staging.iterdir()):
            target = out / entry.name
            if target.is_dir():
                shutil.rmtree(target)  # a scene made again (the marker says the folder is a gallery)
            os.replace(entry, target)
    print(f"a gallery of {len(scenes)} scenes in {out.resolve()}/: open index.html")
    return 0


def chosen_scenes(args: argparse.Namespace) -> list:
    from engine.settings.scenes import load_scene, scene_names, scene_path

    folder = args.settings.path("scenes")
    names = [n.strip() for n in args.scenes.split(",") if n.strip()] or scene_names(folder)
    if not names:
        raise UserError(f"--scenes: expected scene files in {folder}, found none")
    known = scene_names(folder)
    scenes = []
    for name in names:
        if name not in known:
            raise UserError(f"--scenes: expected one of {', '.join(known)}, found {name!r}")
        scenes.append(load_scene(scene_path(folder, name)))
    return scenes


def scene_section(args: argparse.Namespace, scene, folder: Path, models: dict) -> str:
    """Paint the scene's postcards and render its soundscape into folder/NAME/; the page's section for it."""
    from PIL import Image

    from engine.cli.soundscape import synth_clips, write_wav
    from engine.postcards.generate import generate
    from engine.postcards.store import load_model, resolve_model

    own = folder / scene.name
    own.mkdir()
    visual = scene.visual
    model_path = resolve_model(visual.model, args.settings.path("models"))
    if model_path not in models:
        models[model_path] = load_model(model_path, args.device or args.settings.sampler.device)
    model = models[model_path]
    images = generate(model, scheduler=visual.scheduler, n=args.n, steps=visual.steps, seed=args.seed, batch=args.n)
    cards = []
    for i, image in enumerate(images):
        name = f"postcard-{args.seed + i}.png"
        Image.fromarray(image).resize((args.size, args.size), Image.Resampling.LANCZOS).save(own / name)
        caption = f"seed {args.seed + i} · model {model_path.name} · {visual.scheduler} {visual.steps} steps"
        cards.append(f'<figure><img src="{html.escape(scene.name)}/{name}" alt="a postcard of scene '
                     f'{html.escape(scene.name)}, seed {args.seed + i}"><figcaption>{html.escape(caption)}'
                     f"</figcaption></figure>")
    sound = ""
    rate = args.settings.audio.samplerate
    try:
        (audio,) = synth_clips(argparse.Namespace(scene=scene.name, settings=args.settings, seconds=args.seconds,
                                                  n=1, seed=args.seed), rate)
    except UserError:
        audio = None  # a scene with no synth layer (Stable Audio only): postcards alone
    if audio is not None:
        write_wav(own / "soundscape.wav", audio, rate, comment=f"scene {scene.name}, seed {args.seed}")
        sound = (f'<audio controls loop preload="metadata" src="{html.escape(scene.name)}/soundscape.wav"></audio>'
                 f"<div><small>soundscape: the synth's layers of {html.escape(scene.name)}, seed {args.seed}, "
                 f"{args.seconds:g} s</small></div>")
    description = f"<p>{html.escape(scene.description)}</p>" if scene.description else ""
    return (f'<section id="{html.escape(scene.name)}"><h2>{html.escape(scene.name)}</h2>{description}{sound}'
            f'<div class="cards">{"".join(cards)}</div></section>')
