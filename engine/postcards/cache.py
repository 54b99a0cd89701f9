"""The last postcards a model painted, kept on disk, so a show has a picture from its first frame.

A live show's sampler needs seconds to load torch and its model (tens of seconds on a busy machine); until
then the window would stay black. Each postcard the sampler paints is also written here (by a thread of its
own, never the frame loop), and the next start shows these at once. A model never seen before starts with
its own sample images (`samples/*.png` in the model folder, written by the trainer's export).

One folder per model, named after the model and a hash of its weights' path, size and time, so a retrained
model never shows another's postcards. Bounded: CAPACITY files per model, files over MAX_BYTES are not read.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from pathlib import Path

import numpy as np

from engine.logs import RateLimitedLog
from engine.postcards.maker import Postcard, Recipe

log = logging.getLogger(__name__)

CAPACITY = 12             # postcards kept per model
MAX_BYTES = 8 << 20       # a PNG larger than this is not ours: skipped, never decoded
MAX_SIDE = 4096
SAMPLES = "samples"       # the model folder's own sample images, for a model never shown before


def cache_folder(state: Path, model: Path) -> Path:
    """state/postcards/<model name>-<hash of the weights' path, size and mtime>."""
    model = Path(model).resolve()
    facts = [str(model)]
    for weights in sorted((model / "unet").glob("*.safetensors")):
        stat = weights.stat()
        facts.append(f"{weights.name}:{stat.st_size}:{stat.st_mtime_ns}")
    key = hashlib.sha256("\n".join(facts).encode()).hexdigest()[:12]
    return Path(state) / "postcards" / f"{model.name}-{key}"


def read_png(path: Path) -> np.ndarray | None:
    """(H, W, 3) uint8, or None (logged) for anything that is not a plain, reasonably sized image file."""
    from PIL import Image

    try:
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            return None
        with Image.open(path) as image:
            if max(image.size) > MAX_SIDE:
                return None
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        log.warning("postcard cache: %s skipped: %s", path, e)
        return None


class PostcardCache:
    """`load()` the model's last postcards (newest first); `add(postcard)` returns at once; `close()`."""

    def __init__(self, folder: Path, model: Path, capacity: int = CAPACITY):
        self.folder, self.model, self.capacity = Path(folder), Path(model), capacity
        self._queue: queue.Queue[Postcard | None] = queue.Queue(maxsize=4)
        self._thread: threading.Thread | None = None
        self._errors = RateLimitedLog(log, interval=60.0)
        self._number: int | None = None  # of the next file written

    def load(self, recipe: Recipe | None = None, limit: int = CAPACITY) -> list[Postcard]:
        files = self._files()[::-1] or sorted((self.model / SAMPLES).glob("*.png"))
        postcards = []
        for path in files:
            if len(postcards) >= limit:
                break
            image = read_png(path)
            if image is not None:
                seed = path.stem.rsplit("-", 1)[-1]
                postcards.append(Postcard(int(seed) if seed.isdigit() else 0, image, recipe=recipe))
        return postcards

    def add(self, postcard: Postcard) -> None:
        """Keep this postcard for the next start; dropped (not waited for) when the writer is behind."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._write_all, name="postcard cache", daemon=True)
            self._thread.start()
        try:
            self._queue.put_nowait(postcard)
        except queue.Full:
            pass

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    # ---- the writer thread ----------------------------------------------------------------------------

    def _files(self) -> list[Path]:
        """Cached postcards, oldest first (names start with a zero-padded counter)."""
        return sorted(self.folder.glob("*.png")) if self.folder.is_dir() else []

    def _write_all(self) -> None:
        while (postcard := self._queue.get()) is not None:
            try:
                self._write(postcard)
            except OSError as e:  # a full or read-only disk costs the cache, never the show
                self._errors.warning("postcard cache: cannot write to %s: %s", self.folder, e)

    def _write(self, postcard: Postcard) -> None:
        from PIL import Image

        self.folder.mkdir(parents=True, exist_ok=True)
        if self._number is None:  # go on from the newest file an earlier show left
            files = self._files()
            head = files[-1].stem.split("-", 1)[0] if files else ""
            self._number = int(head) + 1 if head.isdigit() else 0
        name = f"{self._number:09d}-{postcard.seed}.png"
        self._number += 1
        partial = self.folder / f".{name}.partial"
        Image.fromarray(postcard.image).save(partial, format="PNG")
        partial.replace(self.folder / name)  # whole files only: a killed show leaves no half postcard
        for old in self._files()[:-self.capacity]:
            old.unlink(missing_ok=True)
