"""DEBUG=... switches loggers on like the reference's DEBUG variable."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

from aiosio._logging import LOGGER_NAMES, configure_from_env, scope_of


@pytest.fixture(autouse=True)
def _restore_loggers() -> Iterator[None]:
    yield
    for name in LOGGER_NAMES:
        logger = logging.getLogger(name)
        logger.setLevel(logging.NOTSET)
        logger.handlers = [h for h in logger.handlers if not hasattr(h, "_aiosio_debug_handler")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("aiosio*", set(LOGGER_NAMES)),
        (
            "socket.io*",
            {"aiosio.server", "aiosio.parser", "aiosio.adapter", "aiosio.client", "aiosio.admin"},
        ),
        # engine.io-client is the client logger's reference name, so engine* selects it too.
        ("engine*", {"aiosio.engine", "aiosio.http", "aiosio.client"}),
        ("engine:*", {"aiosio.engine", "aiosio.http"}),
        ("aiosio.engine", {"aiosio.engine"}),
        ("aiosio:*,-aiosio:client", set(LOGGER_NAMES) - {"aiosio.client"}),
        ("express*", set()),
        ("", set()),
    ],
)
def test_patterns_select_loggers(value: str, expected: set[str]) -> None:
    assert set(configure_from_env(value)) == expected
    for name in expected:
        assert logging.getLogger(name).isEnabledFor(logging.DEBUG)


def test_configuring_twice_adds_one_handler() -> None:
    configure_from_env("aiosio*")
    configure_from_env("aiosio*")
    handlers = logging.getLogger("aiosio.engine").handlers
    assert sum(hasattr(h, "_aiosio_debug_handler") for h in handlers) == 1


def _record(pathname: str, name: str = "aiosio.engine") -> logging.LogRecord:
    return logging.LogRecord(name, logging.DEBUG, pathname, 1, "hello %s", ("there",), None)


def test_records_carry_the_references_scope() -> None:
    configure_from_env("engine:socket")
    (handler,) = [
        h
        for h in logging.getLogger("aiosio.engine").handlers
        if hasattr(h, "_aiosio_debug_handler")
    ]
    from_socket = _record("/x/aiosio/engine/socket.py")
    from_server = _record("/x/aiosio/engine/server.py")
    assert handler.filter(from_socket)
    assert not handler.filter(from_server)  # "engine", not selected by "engine:socket"
    line = handler.format(from_socket)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z engine:socket hello there", line)


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("/a/aiosio/engine/server.py", "engine"),
        ("/a/aiosio/engine/polling.py", "engine:polling"),
        ("/a/aiosio/engine/websocket.py", "engine:ws"),
        ("/a/aiosio/server/server.py", "socket.io:server"),
        ("/a/aiosio/server/socket.py", "socket.io:socket"),
        ("/a/aiosio/server/namespace.py", "socket.io:namespace"),
        ("/a/aiosio/server/connection.py", "socket.io:client"),
        ("/a/aiosio/admin/instrument.py", "socket.io-admin"),
        ("/a/aiosio/serve.py", "aiosio.engine"),
    ],
)
def test_scope_of_each_module(path: str, scope: str) -> None:
    assert scope_of(_record(path)) == scope
