"""Names that come from outside (OSC, MIDI, the command line) turned into paths that stay in their folder."""

from __future__ import annotations

import re
from pathlib import Path

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class UnsafeNameError(ValueError):
    pass


def safe_child(folder: Path, name: str, suffix: str = "", what: str = "name") -> Path:
    """`folder/name+suffix`, refusing anything that could leave `folder` (separators, '..', links out)."""
    if not isinstance(name, str) or not _SAFE_NAME.match(name) or ".." in name:
        raise UnsafeNameError(f"{what} {name!r}: expected letters, digits, '.', '-' or '_' "
                              f"(no slashes, no '..'), at most 128 characters")
    folder = Path(folder).resolve()
    path = (folder / f"{name}{suffix}").resolve()
    if path.parent != folder:
        raise UnsafeNameError(f"{what} {name!r}: resolves outside {folder}")
    return path
