"""DEBUG=... switches loggers on like the reference's DEBUG variable."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from aiosio._logging import LOGGER_NAMES, configure_from_env


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
