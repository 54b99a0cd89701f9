"""Score a model against its training photos: colour, ProGAN's sliced Wasserstein distance, memorization.

Colour (training/colour.py): the Fréchet distance of per-image colour statistics and the cast rate (share
of postcards whose mean chroma lies outside the photos' 2-98 % range). SWD (lower is better) compares
generated postcards with the photos at every Laplacian-pyramid level. Each has its yardstick: the same figure
between two random halves of the photos themselves (what "as good as more photos" looks like at this set
size). The memorization check finds each postcard's nearest photo (correlation of
small grey thumbnails, mirrored photos included) and lists the near-copies; memorization.png shows the
closest pairs side by side. Writes evaluation.json, memorization.png and postcards.png into --out.

Example:
  postcards evaluate --model default --data ../shared/datasets/camouflage/images --n 200 --out eval/
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.errors import UserError
from engine.postcards.schedulers import SCHEDULERS

THUMBNAIL = 32
SHOWN_PAIRS = 8  # closest pairs drawn in memorization.png when there are no near-copies to show


def configure(parser) -> None:
    parser.add_argument("--model", default="default", help="model folder name in models/, or a path (default: default)")
    parser.add_argument("--data", required=True, help="the training photos: a folder of images")
    parser.add_argument("--n", type=int, default=200, help="postcards to generate and score (default: 200)")
    parser.add_argument("--out", default=None, help="output folder (default: evaluations/MODEL)")
    parser.add_argument("--scheduler", default="dpmsolver++", metavar="S",
                        help=f"sampler: {', '.join(SCHEDULERS)} (default: dpmsolver++)")
    parser.add_argument("--steps", type=int, default=None, metavar="K", help="sampler steps (default: its few-step default)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the postcards and of the metric's randomness")
    parser.add_argument("--batch", type=int, default=25, help="postcards per UNet call (default: 25)")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N or mps (default: [sampler] device)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="CPU threads for torch (default: [sampler] threads: all cores but one)")
    parser.add_argument("--threshold", type=float, default=0.95,
                        help="thumbnail correlation at or above which a postcard counts as a near-copy (default: 0.95)")
    parser.add_argument("--card", action="store_true",
                        help="also add the metrics to the model's training.json and rewrite its model card")


def run(args) -> int:
    from engine.postcards.generate import check_sampling, generate, staging_folder
    from engine.postcards.maker import torch_threads
    from engine.postcards.store import load_model, resolve_model
    from training.card import FACTS
    from training.data import load_images
    from training.preview import to_grid

    steps = check_sampling(args)
    if not 0 < args.threshold <= 1:
        raise UserError(f"--threshold: expected a correlation in (0, 1], found {args.threshold}")
    path = resolve_model(args.model, args.settings.path("models"))
    if args.card and not (path / FACTS).is_file():
        raise UserError(f"--card: expected {path / FACTS} (written by `postcards train`), found none")
    out = Path(args.out) if args.out else Path("evaluations") / path.name
    with staging_folder(out) as staging:
        import torch

        torch.set_num_threads(torch_threads(args.threads or args.settings.sampler.threads))
        model = load_model(path, args.device or args.settings.sampler.device)
        # At the finished postcards' size: a model's super-resolution stage included.
        photos = training_photos(load_images(args.data, model.side).pixels, model.side)
        if len(photos) < 4:
            raise UserError(f"--data {args.data}: expected at least 4 photos to split in halves, found {len(photos)}")
        postcards = generate(model, scheduler=args.scheduler, n=args.n, steps=steps, seed=args.seed,
                             batch=args.batch)
        report = evaluate(postcards, photos, seed=args.seed, threshold=args.threshold)
        report.update(model=str(path), data=str(args.data), sampler=f"{args.scheduler}-{steps}", seed=args.seed)
        pairs = report["memorization"]["near_copies"] or report["memorization"]["closest"][:SHOWN_PAIRS]
        files = {"evaluation.json": json.dumps(report, indent=2).encode(),
                 "memorization.png": png(side_by_side(postcards[..., :3], photos, pairs)),
                 "postcards.png": png(np.asarray(to_grid(postcards)))}  # with masks: each beside its mask
        for name, data in files.items():
            (staging / name).write_bytes(data)
            (staging / name).replace(out / name)
    if args.card:
        update_card(path, report)
    print(summary(report))
    print(f"wrote {', '.join(files)} into {out.resolve()}/")
    return 0


def training_photos(pixels, resolution: int) -> np.ndarray:
    """The loader's stored squares (a margin larger, for random crops) centre-cropped to `resolution`: NHWC uint8."""
    margin = (pixels.shape[-1] - resolution) // 2
    crop = pixels[:, :, margin:margin + resolution, margin:margin + resolution]
    return crop.permute(0, 2, 3, 1).contiguous().numpy()


def evaluate(postcards: np.ndarray, photos: np.ndarray, *, seed: int = 0, threshold: float = 0.95) -> dict:
    """Colour figures and SWD of the postcards and of a half of the photos against the other half; nearest
    photos of postcards. A model's mask channel, when it paints one, is left out: the photos have none."""
    from training import colour
    from training.swd import swd

    postcards = np.ascontiguousarray(postcards[..., :3])

    order = np.random.default_rng(seed).permutation(len(photos))
    half = len(photos) // 2
    first, second = photos[order[:half]], photos[order[half:2 * half]]
    # Each comparison pits `half` images against `half` photos, so the model's figure and the yardstick are
    # measured at the same set size (SWD grows as sets shrink).
    model_scores = [swd(postcards[:half], first, seed), swd(postcards[-half:], second, seed + 1)]
    yardstick = swd(first, second, seed)
    levels = {size: float(np.mean([s.levels[size] for s in model_scores])) for size in yardstick.levels}
    return {
        "colour": colour.compare(postcards, photos, seed=seed).as_dict(),
        "swd_x1e3": {"model_vs_photos": {"levels": levels, "mean": float(np.mean(list(levels.values())))},
                     "photos_vs_photos": {"levels": yardstick.levels, "mean": yardstick.mean},
                     "images_per_side": min(half, len(postcards))},
        "memorization": memorization(postcards, photos, threshold),
        "postcards": len(postcards), "photos": len(photos),
    }


def thumbnails(images: np.ndarray):
    """uint8 NHWC -> (N, 32*32) grey thumbnails with zero mean and unit length: dot products are correlations."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    grey = (x * torch.tensor([0.299, 0.587, 0.114])[None, :, None, None]).sum(1, keepdim=True)
    small = F.adaptive_avg_pool2d(grey, min(THUMBNAIL, images.shape[1])).flatten(1)
    small = small - small.mean(1, keepdim=True)
    return small / small.norm(dim=1, keepdim=True).clamp_min(1e-6)


def memorization(postcards: np.ndarray, photos: np.ndarray, threshold: float) -> dict:
    """Each postcard's nearest photo (or mirrored photo, as training flips them), and the near-copies."""
    import torch

    ours, theirs = thumbnails(postcards), thumbnails(photos)
    mirrored = thumbnails(photos[:, :, ::-1])
    correlation = torch.stack([ours @ theirs.T, ours @ mirrored.T])  # (2, postcards, photos)
    best, index = correlation.max(dim=2)  # per orientation
    flip = best.argmax(dim=0)
    rows = range(len(postcards))
    nearest = [{"postcard": i, "photo": int(index[flip[i], i]), "mirrored": bool(flip[i]),
                "correlation": round(float(best[flip[i], i]), 4)} for i in rows]
    closest = sorted(nearest, key=lambda r: -r["correlation"])
    # Context for the threshold: how close distinct photos of the set come to each other.
    among_photos = (theirs @ theirs.T).fill_diagonal_(-1).max(dim=1).values
    scores = np.array([r["correlation"] for r in nearest])
    return {
        "measure": f"correlation of {THUMBNAIL}x{THUMBNAIL} grey thumbnails (1 = same picture up to brightness "
                   f"and contrast), mirrored photos included",
        "threshold": threshold,
        "near_copies": [r for r in closest if r["correlation"] >= threshold],
        "closest": closest,
        "postcard_nearest": {"median": float(np.median(scores)), "max": float(scores.max())},
        "photo_nearest_other_photo": {"median": float(among_photos.median()), "max": float(among_photos.max())},
    }


def side_by_side(postcards: np.ndarray, photos: np.ndarray, pairs: list[dict]) -> np.ndarray:
    """Pairs as tiles: postcard, then its nearest photo (mirrored where that matched), four pairs a row."""
    from engine.postcards.generate import make_grid

    tiles = []
    for pair in pairs:
        photo = photos[pair["photo"]]
        tiles += [postcards[pair["postcard"]], photo[:, ::-1] if pair["mirrored"] else photo]
    return make_grid(np.stack(tiles), cols=min(8, len(tiles)))


def png(image: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def summary(report: dict) -> str:
    colour, swd = report["colour"], report["swd_x1e3"]
    sizes = list(swd["photos_vs_photos"]["levels"])
    head = f"{'SWD x 1e3 (lower is better)':34s}" + "".join(f"{s:>7d}px" for s in sizes) + f"{'mean':>9s}"
    distance, cast = colour["frechet_x1e3"], colour["cast_rate"]
    lines = [f"colour distance x 1e3 (lower is better): postcards {distance['postcards_vs_photos']:.2f}, photos vs "
             f"photos {distance['photos_vs_photos']:.2f} (yardstick)",
             f"cast rate ({cast['range']}): postcards {cast['postcards']:.0%}, photos {cast['photos']:.0%}", head]
    for label, key in (("postcards vs photos", "model_vs_photos"), ("photos vs photos (yardstick)", "photos_vs_photos")):
        row = swd[key]
        lines.append(f"{label:34s}" + "".join(f"{row['levels'][s]:9.1f}" for s in sizes) + f"{row['mean']:9.1f}")
    memo = report["memorization"]
    lines.append(f"nearest photo correlation: postcards median {memo['postcard_nearest']['median']:.3f}, "
                 f"max {memo['postcard_nearest']['max']:.3f} (photos among themselves: median "
                 f"{memo['photo_nearest_other_photo']['median']:.3f}, max {memo['photo_nearest_other_photo']['max']:.3f})")
    lines.append(f"near-copies (correlation >= {memo['threshold']}): {len(memo['near_copies'])} of {report['postcards']}")
    return "\n".join(lines)


def update_card(path: Path, report: dict) -> None:
    """Add the headline metrics to the model's training.json and rewrite its card (when training wrote one)."""
    from training.card import FACTS, write_card

    facts = json.loads((path / FACTS).read_text())
    swd, colour = report["swd_x1e3"], report["colour"]
    facts.setdefault("metrics", {}).update({
        f"colour distance x1e3, {report['sampler']} (yardstick: photos vs photos)":
            f"{colour['frechet_x1e3']['postcards_vs_photos']:.2f} ({colour['frechet_x1e3']['photos_vs_photos']:.2f})",
        f"cast rate, {report['sampler']} (photos)":
            f"{colour['cast_rate']['postcards']:.0%} ({colour['cast_rate']['photos']:.0%})",
        f"SWD x1e3, {report['sampler']} (yardstick: photos vs photos)":
            f"{swd['model_vs_photos']['mean']:.1f} ({swd['photos_vs_photos']['mean']:.1f})",
        f"near-copies of training photos (thumbnail correlation >= {report['memorization']['threshold']})":
            f"{len(report['memorization']['near_copies'])} of {report['postcards']}",
    })
    write_card(path, facts)
