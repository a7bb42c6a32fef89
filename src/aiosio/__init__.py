"""aiosio: a Socket.IO v4+ server and client for asyncio, wire-compatible with the reference."""

from __future__ import annotations

from ._logging import configure_from_env as _configure_logging
from .asgi import ASGIApp
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
from .serve import EmbeddedServer, run, serve, wait_for_shutdown_signal

__version__ = "0.1.0"

__all__ = [
    "ASGIApp",
    "AckTimeoutError",
    "AdapterError",
    "AiosioError",
    "ClientConnectionError",
    "ConnectRefusedError",
    "DisconnectedError",
    "EmbeddedServer",
    "EngineProtocolError",
    "EngineServer",
    "EngineSocket",
    "ProtocolError",
    "RequestRefused",
    "SocketProtocolError",
    "__version__",
    "run",
    "serve",
    "wait_for_shutdown_signal",
]

_configure_logging()
