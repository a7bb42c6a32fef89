"""aiosio: a Socket.IO v4+ server and client for asyncio, wire-compatible with the reference."""

from __future__ import annotations

from ._logging import configure_from_env as _configure_logging
from .engine.errors import RequestRefused
from .engine.server import EngineServer
from .engine.socket import EngineSocket
from .exceptions import (
    AckTimeoutError,
    AdapterError,
    AiosioError,
    ClientConnectionError,
    ConnectRefusedError,
    DisconnectedError,
    EngineProtocolError,
    ProtocolError,
    SocketProtocolError,
)

__version__ = "0.1.0"

__all__ = [
    "AckTimeoutError",
    "AdapterError",
    "AiosioError",
    "ClientConnectionError",
    "ConnectRefusedError",
    "DisconnectedError",
    "EngineProtocolError",
    "EngineServer",
    "EngineSocket",
    "ProtocolError",
    "RequestRefused",
    "SocketProtocolError",
    "__version__",
]

_configure_logging()
