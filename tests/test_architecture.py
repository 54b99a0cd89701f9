"""The house's rules, read from the source: imports go down the layers, never up, and nothing imports
itself round in a circle. Every module of engine/ and training/ is parsed (nothing is imported), imports
inside functions included; only `if TYPE_CHECKING:` blocks are left out (they never run).
"""

from __future__ import annotations

import ast
import gc
from pathlib import Path

from conftest import PROJECT

# Lowest first. A package may import its own modules and those of lower layers; packages on one layer
# do not import each other.
LAYERS = [
    ["engine.errors", "engine.logs", "engine.paths"],                # the base every part may use
    ["engine.processes"],                                             # supervisor, children, shared memory
    ["engine.sound", "engine.postcards"],                             # making sounds and postcards
    ["engine.settings"],                                              # config and scenes (name what sound
                                                                      # and postcards implement)
    ["engine.show"],                                                  # the Show and its vocabulary
    ["engine.mix", "engine.picture", "engine.record"],                # the sound, the picture, the outputs
    ["engine.control"],                                               # controllers (the web face shows
                                                                      # the picture an output hands over)
    ["engine.perform"],                                               # Performance, live and offline
    ["engine.cli"],                                                   # the jobs
    ["engine.__main__"],                                              # python -m engine
    ["training"],                                                     # uses the engine; never used by it
]
LAYER = {package: i for i, names in enumerate(LAYERS) for package in names}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for top in ("engine", "training") for p in sorted((PROJECT / top).rglob("*.py"))}


def package(module: str) -> str:
    """The unit the layers name: engine.X for engine's packages and top modules, training for training."""
    parts = module.split(".")
    return parts[0] if parts[0] == "training" else ".".join(parts[:2])


def imports_in(source: str, package_parts: list[str]) -> set[str]:
    """Every module name an import in `source` names, wherever in the file (TYPE_CHECKING blocks aside).
    `package_parts`: the package the file is in, for relative imports."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            anchor = package_parts[:len(package_parts) - node.level + 1] if node.level else []
            base = ".".join(anchor + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from engine import errors`
        for child in ast.iter_child_nodes(node):
            visit(child)

    gc.disable()  # Python 3.11.7: a collection inside ast.parse can fail it (AST constructor recursion depth
    try:          # mismatch, a SystemError fixed in 3.11.8)
        tree = ast.parse(source)
    finally:
        gc.enable()
    visit(tree)
    return found


def imported(path: Path, here: str, known) -> set[str]:
    """The project modules `path` (module `here`) imports."""
    found = imports_in(path.read_text(), list(path.relative_to(PROJECT).parent.parts))
    return {name for name in found if name in known and name != here}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imported(path, name, known) for name, path in known.items()}


def test_every_package_has_a_layer():
    assert {package(m) for m in modules()} - {"engine"} <= set(LAYER)


def test_imports_go_down_the_layers():
    backward = sorted(f"{a} imports {b} ({package(a)} is on layer {LAYER[package(a)]}, "
                      f"{package(b)} on layer {LAYER[package(b)]})"
                      for a, targets in graph().items() if package(a) != "engine"
                      for b in targets if package(b) not in (package(a), "engine")
                      and LAYER[package(b)] >= LAYER[package(a)])
    assert not backward, "\n".join(backward)


def test_no_module_imports_itself_round_a_circle():
    edges = graph()
    cycles, state = [], {}

    def walk(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for target in sorted(edges[node]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(trail[trail.index(target):] + [node, target]))
            elif target not in state:
                walk(target, trail + [node])
        state[node] = "done"

    for name in sorted(edges):
        if name not in state:
            walk(name, [])
    assert not cycles, "\n".join(cycles)


def test_the_parser_sees_every_kind_of_import():
    """Imports at the top, in functions and relative ones count; a TYPE_CHECKING block does not."""
    source = ("from typing import TYPE_CHECKING\nimport engine.errors\n"
              "def f():\n    from engine.cli import main\n"
              "from .state import Show\nfrom .. import logs\n"
              "if TYPE_CHECKING:\n    from engine.perform.performance import Performance\n")
    found = imports_in(source, ["engine", "show"])
    assert {"engine.errors", "engine.cli", "engine.show.state", "engine.logs"} <= found
    assert "engine.perform.performance" not in found
