"""Logging setup: every logger lives under ``aiosio``; ``DEBUG=...`` switches them on like the reference.

The reference reads the ``DEBUG`` environment variable (``DEBUG=socket.io*``, ``DEBUG=engine*``). aiosio
accepts the same patterns and its own (``DEBUG=aiosio*``, ``DEBUG=aiosio.engine``): a comma- or
space-separated list of names with ``*`` wildcards, where a leading ``-`` excludes.

Each record is printed with the reference's debug scope of the module that logged it
(:data:`SCOPES`: ``engine/socket.py`` logs as ``engine:socket``, ``server/namespace.py`` as
``socket.io:namespace``, ...), and a pattern naming one scope shows that scope only
(``DEBUG=engine:socket``). The format is the reference's when stderr is not a terminal:
``<ISO time> <scope> <message>``.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import sys
import time

__all__ = ["LOGGER_NAMES", "SCOPES", "configure_from_env", "get_logger", "scope_of"]

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
    "aiosio.client": (
        "socket.io-client",
        "socket.io-client:manager",
        "socket.io-client:socket",
        "engine.io-client",
        "engine.io-client:socket",
    ),
    "aiosio.http": ("engine:http",),
    "aiosio.admin": ("socket.io-admin",),
}

#: The reference's debug scope of each aiosio module (``package/module``), for the records it logs.
SCOPES: dict[str, str] = {
    "engine/server": "engine",
    "engine/socket": "engine:socket",
    "engine/polling": "engine:polling",
    "engine/websocket": "engine:ws",
    "engine/transport": "engine:transport",
    "engine/cors": "engine",
    "engine/errors": "engine",
    "server/server": "socket.io:server",
    "server/namespace": "socket.io:namespace",
    "server/socket": "socket.io:socket",
    "server/broadcast": "socket.io:socket",
    "server/connection": "socket.io:client",
    "server/client_files": "socket.io:server",
    "protocol/socketio": "socket.io-parser",
    "adapters/memory": "socket.io-adapter",
    "adapters/base": "socket.io-adapter",
    "adapters/cluster": "socket.io-adapter",
    "adapters/redis": "socket.io-redis",
    "adapters/_redis_link": "socket.io-redis",
    "adapters/redis_streams": "socket.io-redis-streams-adapter",
    "client/manager": "socket.io-client:manager",
    "client/socket": "socket.io-client:socket",
    "client/engine": "engine.io-client:socket",
    "admin/instrument": "socket.io-admin",
}


def scope_of(record: logging.LogRecord) -> str:
    """The reference's debug scope for ``record`` (its logger name when the module has none)."""
    parts = record.pathname.replace("\\", "/").rsplit("/", 2)
    if len(parts) == 3:
        scope = SCOPES.get(f"{parts[1]}/{parts[2].removesuffix('.py')}")
        if scope is not None:
            return scope
    return record.name


class _ScopeFilter(logging.Filter):
    """Keeps the records whose scope (or logger name) the patterns select."""

    def __init__(self, patterns: list[str]) -> None:
        super().__init__()
        self.patterns = patterns

    def filter(self, record: logging.LogRecord) -> bool:
        scope = scope_of(record)
        record.scope = scope
        name = record.name
        return _selected(self.patterns, (scope, name, name.replace(".", ":")))


class _ScopeFormatter(logging.Formatter):
    """``2024-01-02T03:04:05.678Z socket.io:server message``, as the reference's ``debug`` prints."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        scope = getattr(record, "scope", None) or scope_of(record)
        line = f"{stamp}.{int(record.msecs):03d}Z {scope} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


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
        for handler in [h for h in logger.handlers if getattr(h, _HANDLER_ATTR, False)]:
            logger.removeHandler(handler)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_ScopeFormatter())
        handler.addFilter(_ScopeFilter(patterns))
        setattr(handler, _HANDLER_ATTR, True)
        logger.addHandler(handler)
        enabled.append(logger_name)
    return enabled
