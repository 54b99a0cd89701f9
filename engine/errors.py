"""Errors a person caused and can fix: the CLI prints them plainly, without a traceback."""

import errno


class UserError(Exception):
    """What was asked for cannot be done; the message says which input and what was expected."""


def cannot_listen(key: str, host: str, port: int, error: OSError) -> UserError:
    """A server that cannot open its port; when another program holds it, what to do about that."""
    hint = ""
    if error.errno == errno.EADDRINUSE:
        section = key.split(".")[0]
        hint = (f" (another program, or another show, listens there: stop it, or give this one another port: "
                f"{section}.port in a config file of your own, `postcards perform --config my.toml`, "
                f"`make demo ARGS=\"--config my.toml\"`)")
    return UserError(f"{key}: cannot listen on {host}:{port}: {error.strerror or error}{hint}")
