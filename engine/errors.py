"""Errors a person caused and can fix: the CLI prints them plainly, without a traceback."""


class UserError(Exception):
    """What was asked for cannot be done; the message says which input and what was expected."""
