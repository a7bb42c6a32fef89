"""Adapters: where a namespace keeps its rooms and how a broadcast reaches its sockets.

:class:`~aiosio.adapters.base.Adapter` is the interface; :class:`~aiosio.adapters.memory.InMemoryAdapter`
the default for a single process; :class:`~aiosio.adapters.memory.SessionAwareAdapter` adds what connection
state recovery needs.
"""

from aiosio.adapters.base import (
    Adapter,
    AdapterNamespace,
    AdapterSocket,
    BroadcastFlags,
    BroadcastOptions,
    RecoveryOptions,
    RecoveryOptionsDict,
    Session,
    SessionToPersist,
    SocketDetails,
)
from aiosio.adapters.memory import InMemoryAdapter, SessionAwareAdapter

__all__ = [
    "Adapter",
    "AdapterNamespace",
    "AdapterSocket",
    "BroadcastFlags",
    "BroadcastOptions",
    "InMemoryAdapter",
    "RecoveryOptions",
    "RecoveryOptionsDict",
    "Session",
    "SessionAwareAdapter",
    "SessionToPersist",
    "SocketDetails",
]
