"""Atomic, resumable checkpoints through accelerate: write into a temp folder, then rename it into place.

A kill during a save leaves only a `.tmp-*` folder behind (removed on the next start); the last good
checkpoint is untouched. `meta.json` is written last inside the temp folder, so a checkpoint folder that
exists under its final name is always complete.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

PREFIX = "checkpoint-"


def folder_of(out: Path) -> Path:
    return out / "checkpoints"


def complete_checkpoints(out: Path) -> list[Path]:
    root = folder_of(out)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.name.startswith(PREFIX) and (p / "meta.json").is_file()]
    return sorted(found, key=lambda p: int(p.name[len(PREFIX):]))


def latest(out: Path) -> tuple[Path, dict] | None:
    found = complete_checkpoints(out)
    if not found:
        return None
    return found[-1], json.loads((found[-1] / "meta.json").read_text())


def remove_partial(out: Path) -> None:
    """Temp folders of a save that was killed half-way."""
    root = folder_of(out)
    if root.is_dir():
        for p in root.glob(".tmp-*"):
            shutil.rmtree(p, ignore_errors=True)


def _fsync_tree(folder: Path) -> None:
    for path in [*folder.rglob("*"), folder]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def save(accelerator, out: Path, step: int, meta: dict, keep: int) -> Path:
    """Every process calls this (accelerate gathers what it needs); the main one renames and prunes."""
    root = folder_of(out)
    final = root / f"{PREFIX}{step:08d}"
    tmp = root / f".tmp-{PREFIX}{step:08d}"
    if accelerator.is_main_process:
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    if accelerator.is_main_process:
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
        _fsync_tree(tmp)
        if final.exists():  # the same step saved again (e.g. a stop right after a periodic save)
            shutil.rmtree(final)
        os.rename(tmp, final)
        _fsync_tree(root)
        for old in complete_checkpoints(out)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final
