"""Check the settings and every scene before a show.

Example:
  postcards config check
  postcards --config /etc/postcards/config.toml config check
  postcards config check --scenes my-scenes/

Every problem is listed with its file, key, what was expected and what was found; each scene's model is
checked too (its configs and its weights' header, as the sampler checks them before loading). Exit code 0
when all is well, 2 when anything is wrong.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.errors import UserError
from engine.postcards.store import check_model, resolve_model
from engine.settings.scenes import load_all


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate config.toml and every scene in the scenes folder")
    check.add_argument("--scenes", metavar="DIR", help="scenes folder (default: paths.scenes from the config)")


def run(args: argparse.Namespace) -> int:
    if args.settings is None:
        print(f"config: problems:\n{args.settings_error}")
        return 2
    config = args.settings
    folder = Path(args.scenes) if args.scenes else config.path("scenes")
    if not folder.is_dir():
        print(f"{folder}: scenes folder not found (set paths.scenes in {config.source} or pass --scenes)")
        return 2
    scenes, problems = load_all(folder)
    problems += model_problems(scenes, folder, config.path("models"))
    names = set(scenes)
    wanted = [("show.scene", config.show.scene)] + [
        (f"show.schedule[{i}].scene", e.scene) for i, e in enumerate(config.show.schedule)]
    for key, name in wanted:
        if name not in names and not any(p.startswith(f"{folder / name}.toml") for p in problems):
            problems.append(f"{config.source}: {key}: expected a scene in {folder} "
                            f"({', '.join(sorted(names)) or 'none there'}), found {name!r}")
    print(f"config: {config.source} is valid")
    print(f"scenes: {len(scenes)} valid in {folder}: {', '.join(sorted(scenes))}")
    for line in problems:
        print(line)
    return 2 if problems else 0


def model_problems(scenes: dict, folder: Path, models: Path) -> list[str]:
    """One line for each scene whose model would not load (each model checked once)."""
    problems, checked = [], {}
    for name, scene in sorted(scenes.items()):
        model = scene.visual.model
        if model not in checked:
            try:
                check_model(resolve_model(model, models))
                checked[model] = None
            except UserError as e:
                checked[model] = str(e)
        if checked[model]:
            problems.append(f"{folder / name}.toml: visual.model: {checked[model]}")
    return problems
