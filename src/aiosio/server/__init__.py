"""The Socket.IO server: Server, Namespace, Socket, broadcasting."""

from aiosio.server.broadcast import BroadcastOperator, RemoteSocket
from aiosio.server.handshake import Handshake
from aiosio.server.namespace import Namespace, ParentNamespace
from aiosio.server.reasons import DisconnectReason
from aiosio.server.server import Server
from aiosio.server.socket import Socket

__all__ = [
    "BroadcastOperator",
    "DisconnectReason",
    "Handshake",
    "Namespace",
    "ParentNamespace",
    "RemoteSocket",
    "Server",
    "Socket",
]
