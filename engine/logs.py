"""Logging: the console plus a rotating file, set up once by the CLI."""

from __future__ import annotations

import logging
import logging.handlers
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.settings.config import Config

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(config: Config | None = None, verbose: bool = False) -> None:
    level = "DEBUG" if verbose else (config.logging.level if config else "INFO")
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(console)
    if config is not None and config.logging.file:
        folder = config.path("logs")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(
                folder / config.logging.file, maxBytes=config.logging.max_bytes,
                backupCount=config.logging.backups, encoding="utf-8")
            handler.setFormatter(logging.Formatter(FORMAT))
            root.addHandler(handler)
        except OSError as e:
            logging.getLogger(__name__).warning("no log file in %s: %s", folder, e.strerror)
    root.setLevel(level)
    # Third-party chatter stays at WARNING unless asked for.
    for noisy in ("PIL", "matplotlib", "urllib3", "httpx", "filelock", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


class RateLimitedLog:
    """Log at most one line per `interval` seconds for a repeating problem; count the rest."""

    def __init__(self, logger: logging.Logger, interval: float = 5.0):
        self.logger, self.interval = logger, interval
        self._last = float("-inf")
        self._suppressed = 0

    def warning(self, message: str, *args) -> None:
        now = time.monotonic()
        if now - self._last < self.interval:
            self._suppressed += 1
            return
        if self._suppressed:
            message += f" (and {self._suppressed} more since the last report)"
        self.logger.warning(message, *args)
        self._last, self._suppressed = now, 0
