"""Logging setup: every logger lives under ``aiosio``; ``DEBUG=...`` switches them on like the reference.

The reference reads the ``DEBUG`` environment variable (``DEBUG=socket.io*``, ``DEBUG=engine*``). aiosio
accepts the same patterns and its own (``DEBUG=aiosio*``, ``DEBUG=aiosio.engine``): a comma- or
space-separated list of names with ``*`` wildcards, where a leading ``-`` excludes.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import sys

__all__ = ["LOGGER_NAMES", "configure_from_env", "get_logger"]

#: Each aiosio logger with the reference names that select it as well.
LOGGER_NAMES: dict[str, tuple[str, ...]] = {
    "aiosio.engine": ("engine", "engine:socket", "engine:polling", "engine:ws", "engine.io"),
    "aiosio.server": (
        "socket.io:server",
        "socket.io:namespace",
        "socket.io:socket",
        "socket.io:client",
    ),
    "aiosio.parser": ("socket.io-parser", "socket.io:parser"),
    "aiosio.adapter": ("socket.io-adapter", "socket.io:adapter", "socket.io-redis"),
    "aiosio.client": ("socket.io-client", "socket.io-client:manager", "engine.io-client"),
    "aiosio.http": ("engine:http",),
}

_HANDLER_ATTR = "_aiosio_debug_handler"


def get_logger(name: str) -> logging.Logger:
    """Return the logger ``aiosio.<name>``."""
    return logging.getLogger(f"aiosio.{name}")


def _selected(patterns: list[str], names: tuple[str, ...]) -> bool:
    chosen = False
    for pattern in patterns:
        negate = pattern.startswith("-")
        pat = pattern[1:] if negate else pattern
        if any(fnmatch.fnmatchcase(name, pat) for name in names):
            chosen = not negate
    return chosen


def configure_from_env(value: str | None = None) -> list[str]:
    """Switch the loggers that ``value`` (default: ``$DEBUG``) selects to DEBUG output on stderr.

    Returns the names of the loggers switched on. Calling it again is harmless.
    """
    raw = os.environ.get("DEBUG", "") if value is None else value
    patterns = [p for p in raw.replace(",", " ").split() if p]
    enabled: list[str] = []
    if not patterns:
        return enabled
    for logger_name, aliases in LOGGER_NAMES.items():
        names = (logger_name, logger_name.replace(".", ":"), *aliases)
        if not _selected(patterns, names):
            continue
        logger = logging.getLogger(logger_name)
        logger.setLevel(logging.DEBUG)
        if not any(getattr(h, _HANDLER_ATTR, False) for h in logger.handlers):
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
            setattr(handler, _HANDLER_ATTR, True)
            logger.addHandler(handler)
        enabled.append(logger_name)
    return enabled
