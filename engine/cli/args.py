"""Argument types the jobs share (perform and render take the same sizes and seconds)."""

from __future__ import annotations

import argparse


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit() and 16 <= int(width) <= 16384 and 16 <= int(height) <= 16384):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT from 16 to 16384 (e.g. 1280x720), found {text!r}")
    return int(width), int(height)


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected seconds above 0, found {text!r}")
    return value
