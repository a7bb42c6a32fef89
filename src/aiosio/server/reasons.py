"""Why a socket disconnected: the reference's exact reason strings."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["RECOVERABLE_REASONS", "DisconnectReason"]


class DisconnectReason(StrEnum):
    """The ``reason`` passed to ``"disconnecting"`` and ``"disconnect"`` handlers."""

    #: the connection was closed (the user lost connection, or the network changed)
    TRANSPORT_CLOSE = "transport close"
    #: the connection encountered an error
    TRANSPORT_ERROR = "transport error"
    #: the client did not answer a heartbeat in time
    PING_TIMEOUT = "ping timeout"
    #: the client sent something that is not a valid packet
    PARSE_ERROR = "parse error"
    #: the engine connection was closed by the server
    FORCED_CLOSE = "forced close"
    #: the server closed the whole connection (``socket.disconnect(close=True)``)
    FORCED_SERVER_CLOSE = "forced server close"
    #: the server disconnected the socket from the namespace (``socket.disconnect()``)
    SERVER_NAMESPACE_DISCONNECT = "server namespace disconnect"
    #: the client disconnected the socket from the namespace
    CLIENT_NAMESPACE_DISCONNECT = "client namespace disconnect"
    #: the server is shutting down (``io.close()``)
    SERVER_SHUTTING_DOWN = "server shutting down"


#: Reasons after which the session is kept for connection state recovery.
RECOVERABLE_REASONS: frozenset[str] = frozenset(
    {
        DisconnectReason.TRANSPORT_ERROR,
        DisconnectReason.TRANSPORT_CLOSE,
        DisconnectReason.FORCED_CLOSE,
        DisconnectReason.PING_TIMEOUT,
        DisconnectReason.SERVER_SHUTTING_DOWN,
        DisconnectReason.FORCED_SERVER_CLOSE,
    }
)
