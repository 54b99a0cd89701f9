"""The `postcards` command: one subcommand per job, registered in one table.

Each job lives in a module of its own, which exposes `configure(parser)` (its arguments) and
`run(args) -> int`. Only the chosen job's module is imported, so `postcards --help` stays fast. Jobs that
live outside the engine (training's `train` and `evaluate`) register through the `postcards.jobs`
entry-point group in pyproject.toml; the engine never imports them by name.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import importlib
import importlib.util
import logging
import sys
import tokenize
from importlib.metadata import entry_points

from engine.errors import UserError
from engine.logs import setup_logging
from engine.settings.config import load_config
from engine.settings.schema import SettingsError

# The engine's own jobs: name -> (module, one-line summary).
JOBS = {
    "generate": ("engine.cli.generate", "sample postcards (PNG files and a grid) from a trained model"),
    "soundscape": ("engine.cli.soundscape", "write jungle soundscape WAVs (embedded synth or Stable Audio)"),
    "perform": ("engine.cli.perform", "run the live show: postcards crossfading, soundscape playing"),
    "render": ("engine.cli.render", "render a scene offline to an MP4 with sound, faster than real time"),
    "midi": ("engine.cli.midi", "list MIDI inputs and monitor what arrives"),
    "config": ("engine.cli.config", "check config.toml and every scene"),
    "gallery": ("engine.cli.gallery", "a static page of every scene's postcards and soundscapes"),
    "spectrogram": ("engine.cli.spectrogram", "draw spectrogram pictures of the synth's voices"),
}
GROUP = "postcards.jobs"  # entry points: name = "package.module" (a module with configure and run)


def jobs() -> dict[str, tuple[str, str]]:
    """Every job: the engine's own, then those the entry-point group adds (summary: their docstring's
    first line, read without importing them)."""
    table = dict(JOBS)
    for point in sorted(entry_points(group=GROUP), key=lambda p: p.name):
        if point.name not in table:
            table[point.name] = (point.module, _summary(point.module))
    return table


def _summary(module_name: str) -> str:
    """The first line of a module's docstring, up to a colon (its first token, read without parsing the
    file: ast.parse of a whole module can fail spuriously on Python 3.11.7 when a collection runs in it)."""
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.origin is None:
        return ""
    with open(spec.origin, "rb") as f:
        tokens = (t for t in tokenize.tokenize(f.readline)
                  if t.type not in (tokenize.ENCODING, tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE))
        first = next(tokens, None)
    if first is None or first.type != tokenize.STRING:
        return ""
    line = ast.literal_eval(first.string).strip().split("\n")[0].split(": ")[0].rstrip(".")
    return line[:1].lower() + line[1:]


def _chosen(argv, table) -> str | None:
    """The job named on the command line: its first word that is not an option (or --config's value)."""
    words = iter(argv)
    for word in words:
        if word == "--config":
            next(words, None)
        elif not word.startswith("-"):
            return word if word in table else None
    return None


def build_parser(argv: list[str] = ()) -> argparse.ArgumentParser:
    """The parser for `argv`: every job listed, the chosen one (if any) configured by its module."""
    table = jobs()
    chosen = _chosen(argv, table)
    parser = argparse.ArgumentParser(
        prog="postcards",
        description="Postcards from my Jungle: a diffusion model paints postcards of camouflaged animals "
                    "while a jungle soundscape plays.",
        epilog="Examples:\n  postcards perform --scene dawn\n  postcards generate --n 50 --grid --out out/\n"
               "Run `postcards JOB --help` for each job.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", metavar="FILE", help="settings file (default: config.toml of the project)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="job", metavar="JOB", required=True)
    for name, (module_name, summary) in table.items():
        job = sub.add_parser(name, help=summary, description=summary,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        if name == chosen:
            module = importlib.import_module(module_name)
            job.description = (module.__doc__ or summary).strip()
            module.configure(job)
            job.set_defaults(run=module.run)
    return parser


def global_options_first(argv: list[str]) -> list[str]:
    """`postcards perform --config my.toml -v` read as `postcards --config my.toml -v perform`: the options
    of the whole command may stand anywhere, before or after the job and its actions."""
    front, rest, words = [], [], iter(argv)
    for word in words:
        if word in ("-v", "--verbose") or word.startswith("--config="):
            front.append(word)
        elif word == "--config":
            front.append(word)
            value = next(words, None)
            if value is not None:
                front.append(value)
        else:
            rest.append(word)
    return front + rest


def unknown_job(argv: list[str], table) -> str | None:
    """A line for a job name that is none of ours, with the closest one when there is one."""
    words = iter(argv)
    for word in words:
        if word == "--config":
            next(words, None)
        elif not word.startswith("-"):
            if word in table:
                return None
            close = difflib.get_close_matches(word, table, n=1)
            hint = f"did you mean `postcards {close[0]}`? " if close else ""
            return f"postcards: there is no job {word!r}; {hint}(jobs: {', '.join(table)}; `postcards --help`)"
    return None


def main(argv: list[str] | None = None) -> int:
    argv = global_options_first(sys.argv[1:] if argv is None else list(argv))
    problem = unknown_job(argv, jobs())
    if problem:
        print(problem, file=sys.stderr)
        return 2
    args = build_parser(argv).parse_args(argv)
    try:
        args.settings = load_config(args.config)
    except SettingsError as e:
        setup_logging(None, args.verbose)
        if args.job != "config":
            print(f"postcards: the settings have problems:\n{e}", file=sys.stderr)
            return 2
        args.settings = None
        args.settings_error = e
    else:
        setup_logging(args.settings, args.verbose)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (SettingsError, UserError) as e:
        logging.getLogger("postcards").debug("stopped", exc_info=True)
        print(f"postcards {args.job}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
