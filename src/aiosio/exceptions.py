"""The exceptions aiosio raises, in one hierarchy.

::

    AiosioError
    ├── ProtocolError                 bytes from a peer that break the protocol
    │   ├── EngineProtocolError       Engine.IO packet or payload
    │   └── SocketProtocolError       Socket.IO packet, namespace, ack id or attachments
    ├── RequestRefused                an allow_request hook refuses an Engine.IO handshake (server)
    ├── ClientConnectionError         a connection could not be made or was lost (client side)
    │   └── ConnectRefusedError       a namespace connection refused: a server middleware raises it,
    │                                 the client receives it (CONNECT_ERROR message and data)
    ├── DisconnectedError             an operation on a socket that is no longer connected
    ├── AckTimeoutError               acknowledgements did not arrive in time (also a TimeoutError)
    └── AdapterError                  a cluster adapter could not reach its peers
        └── RequestTimeoutError       some server did not answer fetch_sockets / sockets / all_rooms
                                      in time (``responses`` holds what did arrive)

The two refusals are decisions, not failures: user code raises them to refuse a peer
(``RequestRefused`` in ``allow_request``, ``ConnectRefusedError`` in a namespace middleware), and
the client raises ``ConnectRefusedError`` when the server refused it.

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
    "RequestRefused",
    "RequestTimeoutError",
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


class RequestRefused(AiosioError):  # noqa: N818 - it is a decision, not a failure
    """Raised by an ``allow_request`` hook to refuse a handshake.

    The client gets ``status`` (403 by default) with ``{"code": 4, "message": message}``.
    """

    def __init__(self, message: str = "Forbidden", status: int = 403) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ClientConnectionError(AiosioError):
    """A connection could not be established, or it was lost."""


class ConnectRefusedError(ClientConnectionError):
    """A namespace connection refused (a ``CONNECT_ERROR`` packet).

    On the server, a namespace middleware raises it to refuse a socket; on the client,
    ``connect()`` raises it. ``message`` is the reason and ``data`` the optional extra payload.
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


class RequestTimeoutError(AdapterError):
    """Some server of the cluster did not answer a request (``fetch_sockets``, ``sockets``,
    ``all_rooms``) before the timeout.

    The message is the reference adapter's (``"timeout reached while waiting for fetchSockets
    response"`` for the Redis adapter, ``"timeout reached: only 1 responses received out of 2"`` or
    ``"timeout reached: missing 1 responses"`` for the cluster adapters). ``responses`` holds what did
    arrive in time, the local server's part included: a list of sockets for ``fetch_sockets``, a set of
    ids or rooms for ``sockets`` / ``all_rooms``. It is not an :class:`AckTimeoutError`: no client
    acknowledgement is involved.
    """

    def __init__(self, message: str, responses: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.responses = responses
