"""Export the EMA weights as a diffusers DDPMPipeline folder (unet/ in fp16 + scheduler/ + model_index.json +
card).

Written into a temp folder and moved into place item by item, so a model folder being read by another
job (evaluate, generate) is never half-written for more than a rename.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from engine.postcards.anchor import FILE as ANCHOR_FILE, write as write_anchor
from engine.postcards.cache import SAMPLES
from training.card import FACTS, write_card

PIPELINE_ITEMS = ("unet", "scheduler", "model_index.json")
SAMPLE_COUNT = 6  # postcards in samples/: what a show draws first, before its sampler has painted any


def export(out: Path, unet, scheduler, facts: dict, preview_image=None, postcards=None, anchor=None) -> None:
    """`unet` holds the EMA weights already; `preview_image` (PIL) becomes preview.png in the card;
    `postcards` (uint8 NHWC, RGB first) the model's samples/, which a show starts with (engine/postcards/cache.py);
    `anchor` (engine.postcards.anchor.ColourAnchor) its colours.json."""
    import copy

    from diffusers import DDPMPipeline
    from PIL import Image

    tmp = out / ".tmp-export"
    shutil.rmtree(tmp, ignore_errors=True)
    # Stored in fp16, like the super-resolution stage: half the bytes in git, and load_model casts to what the
    # device computes in (fp32 on a CPU, bf16/fp16 on a GPU). The checkpoints keep full precision for training.
    stored = copy.deepcopy(unet).half()  # .to(dtype) would warn about modules kept in fp32 (there are none)
    DDPMPipeline(unet=stored, scheduler=scheduler).save_pretrained(tmp, safe_serialization=True)
    items = list(PIPELINE_ITEMS)
    facts = {k: v for k, v in facts.items() if k != "preview"}
    if preview_image is not None:
        preview_image.save(tmp / "preview.png")
        facts = {**facts, "preview": "preview.png"}
        items.append("preview.png")
    if postcards is not None:
        (tmp / SAMPLES).mkdir()
        for i, postcard in enumerate(postcards[:SAMPLE_COUNT]):
            Image.fromarray(postcard[..., :3]).save(tmp / SAMPLES / f"postcard_{i:03d}.png")
        items.append(SAMPLES)
    if anchor is not None:
        write_anchor(tmp, anchor.colours, anchor.down_to)
        items.append(ANCHOR_FILE)
    write_card(tmp, facts)
    items += [FACTS, "README.md"]
    for name in items:
        target, old = out / name, tmp / f"old-{name}"
        if target.exists():  # a folder too (samples/): moved aside whole, removed with tmp
            os.rename(target, old)
        os.rename(tmp / name, target)
    shutil.rmtree(tmp, ignore_errors=True)
