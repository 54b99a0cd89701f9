"""The `postcards` command: one subcommand per job.

Each job lives in its own module, which exposes `configure(parser)` (arguments, kept light: no torch at
import) and `run(args) -> int`. This file only wires them together, so `postcards --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from engine.config import load_config
from engine.errors import UserError
from engine.logs import setup_logging
from engine.schema import SettingsError

# subcommand -> (module, one-line summary)
JOBS = {
    "train": ("training.cli", "train a postcard diffusion model on a folder of photos"),
    "generate": ("engine.postcards.generate", "sample postcards (PNG files and a grid) from a trained model"),
    "evaluate": ("training.evaluate", "score a model: sliced Wasserstein distance and a memorization check"),
    "soundscape": ("engine.sound.soundscape", "write jungle soundscape WAVs (embedded synth or Stable Audio)"),
    "perform": ("engine.perform", "run the live show: postcards crossfading, soundscape playing"),
    "render": ("engine.record.render", "render a scene offline to an MP4 with sound, faster than real time"),
    "midi": ("engine.control.midi_cli", "list MIDI inputs and monitor what arrives"),
    "config": ("engine.config_cli", "check config.toml and every scene"),
}


def build_parser() -> argparse.ArgumentParser:
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
    for name, (module_name, summary) in JOBS.items():
        module = importlib.import_module(module_name)
        job = sub.add_parser(name, help=summary, description=(module.__doc__ or summary).strip(),
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        module.configure(job)
        job.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
