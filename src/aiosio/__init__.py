"""aiosio: a Socket.IO v4+ server and client for asyncio, wire-compatible with the reference."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version

from ._handlers import Ack
from ._json import register_type as register_json_type
from ._logging import configure_from_env as _configure_logging
from .adapters import (
    Adapter,
    BroadcastFlags,
    BroadcastOptions,
    InMemoryAdapter,
    RecoveryOptions,
    RecoveryOptionsDict,
    SessionAwareAdapter,
)
from .asgi import ASGIApp
from .engine.hosting import WebTransportHost as _WebTransportHost
from .engine.hosting import register_webtransport_host as _register_webtransport_host
from .engine.options import EngineOptions, EngineOptionsDict
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
    RequestRefused,
    RequestTimeoutError,
    SocketProtocolError,
)
from .protocol.socketio import DEFAULT_PARSER, JsonParser
from .serve import EmbeddedServer, run, serve, wait_for_shutdown_signal
from .server import (
    BroadcastOperator,
    DisconnectReason,
    Handshake,
    Namespace,
    ParentNamespace,
    RemoteSocket,
    Server,
    Socket,
)


def _load_webtransport_host() -> _WebTransportHost:
    # aiosio.webtransport needs the ``webtransport`` extra (aioquic): imported when first asked for
    from .webtransport import serve_webtransport

    return serve_webtransport


_register_webtransport_host(_load_webtransport_host)

try:
    __version__ = _version("aiosio")
except _PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "DEFAULT_PARSER",
    "ASGIApp",
    "Ack",
    "AckTimeoutError",
    "Adapter",
    "AdapterError",
    "AiosioError",
    "BroadcastFlags",
    "BroadcastOperator",
    "BroadcastOptions",
    "ClientConnectionError",
    "ConnectRefusedError",
    "DisconnectReason",
    "DisconnectedError",
    "EmbeddedServer",
    "EngineOptions",
    "EngineOptionsDict",
    "EngineProtocolError",
    "EngineServer",
    "EngineSocket",
    "Handshake",
    "InMemoryAdapter",
    "JsonParser",
    "Namespace",
    "ParentNamespace",
    "ProtocolError",
    "RecoveryOptions",
    "RecoveryOptionsDict",
    "RemoteSocket",
    "RequestRefused",
    "RequestTimeoutError",
    "Server",
    "SessionAwareAdapter",
    "Socket",
    "SocketProtocolError",
    "__version__",
    "register_json_type",
    "run",
    "serve",
    "wait_for_shutdown_signal",
]

_configure_logging()
