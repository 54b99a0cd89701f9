"""`python -m training ...`: the same job as `postcards train ...`, without reading config.toml."""

from __future__ import annotations

import argparse
import shlex
import sys

from engine.errors import UserError
from engine.logs import setup_logging
from training import cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training", description=cli.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    cli.configure(parser)
    args = parser.parse_args(argv)
    args.command = shlex.join(["python", "-m", "training", *(sys.argv[1:] if argv is None else argv)])
    setup_logging(None, args.verbose)
    try:
        return cli.run(args)
    except KeyboardInterrupt:
        return 130
    except UserError as e:
        print(f"python -m training: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
