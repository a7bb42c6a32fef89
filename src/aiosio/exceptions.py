"""The exceptions aiosio raises, in one hierarchy.

::

    AiosioError
    ├── ProtocolError                 bytes from a peer that break the protocol
    │   ├── EngineProtocolError       Engine.IO packet or payload
    │   └── SocketProtocolError       Socket.IO packet, namespace, ack id or attachments
    ├── ClientConnectionError         a connection could not be made or was lost (client side)
    │   └── ConnectRefusedError       the server refused the namespace (CONNECT_ERROR)
    ├── DisconnectedError             an operation on a socket that is no longer connected
    ├── AckTimeoutError               acknowledgements did not arrive in time
    └── AdapterError                  a cluster adapter could not reach its peers

Programming mistakes (a bad option, a wrong type) raise the builtin ``TypeError`` / ``ValueError``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AckTimeoutError",
    "AdapterError",
    "AiosioError",
    "ClientConnectionError",
    "ConnectRefusedError",
    "DisconnectedError",
    "EngineProtocolError",
    "ProtocolError",
    "SocketProtocolError",
]


class AiosioError(Exception):
    """Base class of every error aiosio raises on purpose."""


class ProtocolError(AiosioError):
    """A peer sent bytes that do not follow the protocol."""


class EngineProtocolError(ProtocolError):
    """An Engine.IO packet or polling payload could not be decoded."""


class SocketProtocolError(ProtocolError):
    """A Socket.IO packet could not be decoded or validated."""


class ClientConnectionError(AiosioError):
    """A connection could not be established, or it was lost."""


class ConnectRefusedError(ClientConnectionError):
    """The server refused to connect a namespace (a ``CONNECT_ERROR`` packet).

    ``message`` is the reason the server gave and ``data`` the optional extra payload.
    """

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class DisconnectedError(AiosioError):
    """The socket is not connected, so the operation cannot complete."""


class AckTimeoutError(AiosioError, TimeoutError):
    """Acknowledgements did not arrive before the timeout.

    ``responses`` holds whatever arrived in time (for a broadcast: one entry per client that answered).
    """

    def __init__(self, message: str = "operation has timed out", responses: Any = None) -> None:
        super().__init__(message)
        self.responses = responses


class AdapterError(AiosioError):
    """A cluster adapter could not publish to, or hear from, its peers."""
