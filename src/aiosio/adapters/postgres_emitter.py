"""Emit to the clients of a PostgreSQL cluster from any process, as ``@socket.io/postgres-emitter`` does.

The emitter sends what the PostgreSQL adapter sends (:mod:`aiosio.adapters.postgres`): cluster messages
with the uid ``"emitter"`` on ``socket.io#<nsp>``, JSON, or msgpack in the attachments table when they
hold binary or their JSON is over ``payload_threshold`` bytes::

    pool = await asyncpg.create_pool("postgresql://user@host/db")
    emitter = PostgresEmitter(pool)
    await emitter.emit("time", 42)
    await emitter.of("/admin").to("room1").except_("room2").emit("hello", {"a": 1})
    await emitter.in_("room1").sockets_join("room2")

Unlike ``@socket.io/postgres-emitter`` 0.1, each message also names its namespace (``"nsp"``): the
Node ``@socket.io/postgres-adapter`` 0.5 routes messages by that field and drops the ones without it,
while the aiosio adapter takes the namespace from the channel. Acknowledgements are not supported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Protocol

from aiosio import _json
from aiosio.adapters._codec import has_binary, pack
from aiosio.adapters._targeting import EmitterOperator, EmitterShortcuts
from aiosio.adapters.cluster import EMITTER_UID, MessageType
from aiosio.protocol.socketio import RESERVED_EVENTS, PacketType

__all__ = ["PostgresBroadcastOperator", "PostgresEmitter", "Queryable"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$.]*$")


class Queryable(Protocol):
    """What the emitter needs of an asyncpg ``Pool`` or ``Connection``."""

    async def execute(self, query: str, *args: Any) -> Any:
        """Run a statement."""
        ...

    async def fetchval(self, query: str, *args: Any) -> Any:
        """Run a query; return the first column of its first row."""
        ...


class _Target:
    __slots__ = ("channel", "db", "nsp", "payload_threshold", "table_name")

    def __init__(
        self, db: Queryable, prefix: str, nsp: str, table_name: str, payload_threshold: int
    ) -> None:
        self.db = db
        self.nsp = nsp
        self.channel = f"{prefix}#{nsp}"
        self.table_name = table_name
        self.payload_threshold = payload_threshold

    async def publish(self, kind: MessageType, data: dict[str, Any]) -> None:
        message = {"uid": EMITTER_UID, "nsp": self.nsp, "type": int(kind), "data": data}
        text: str | None = None
        if not has_binary(data):
            text = _json.dumps(message)
            if len(text.encode()) > self.payload_threshold:
                text = None
        if text is None:
            row_id = await self.db.fetchval(
                f"INSERT INTO {self.table_name} (payload) VALUES ($1) RETURNING id", pack(message)
            )
            header = {"uid": EMITTER_UID, "type": int(kind), "attachmentId": str(row_id)}
            text = _json.dumps(header)
        await self.db.execute("SELECT pg_notify($1, $2)", self.channel, text)


class PostgresBroadcastOperator(EmitterOperator):
    """Targets and flags of an emitter broadcast. Immutable: every modifier returns a new operator."""

    __slots__ = ("_flags", "_target")

    def __init__(
        self,
        target: _Target,
        rooms: frozenset[str] = frozenset(),
        except_: frozenset[str] = frozenset(),
        flags: dict[str, Any] | None = None,
    ) -> None:
        self._target = target
        self._rooms = rooms
        self._except = except_
        self._flags: dict[str, Any] = flags or {}

    def _with_rooms(
        self, rooms: frozenset[str], except_: frozenset[str]
    ) -> PostgresBroadcastOperator:
        return PostgresBroadcastOperator(self._target, rooms, except_, self._flags)

    def _with_flags(self, **changes: Any) -> PostgresBroadcastOperator:
        flags = {**self._flags, **changes}
        return PostgresBroadcastOperator(self._target, self._rooms, self._except, flags)

    def _opts(self) -> dict[str, Any]:
        return {"rooms": sorted(self._rooms), "except": sorted(self._except)}

    async def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to every targeted client of the cluster."""
        if not isinstance(event, str):
            raise TypeError("the event name must be a str")
        if event in RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved event name")
        target = self._target
        packet = {"type": int(PacketType.EVENT), "data": [event, *args], "nsp": target.nsp}
        opts = {"rooms": sorted(self._rooms), "flags": self._flags, "except": sorted(self._except)}
        await target.publish(MessageType.BROADCAST, {"packet": packet, "opts": opts})

    async def sockets_join(self, room: str | Iterable[str]) -> None:
        """Make the targeted sockets join ``room`` (one or several)."""
        rooms = [room] if isinstance(room, str) else list(room)
        await self._target.publish(MessageType.SOCKETS_JOIN, {"opts": self._opts(), "rooms": rooms})

    async def sockets_leave(self, room: str | Iterable[str]) -> None:
        """Make the targeted sockets leave ``room`` (one or several)."""
        rooms = [room] if isinstance(room, str) else list(room)
        await self._target.publish(
            MessageType.SOCKETS_LEAVE, {"opts": self._opts(), "rooms": rooms}
        )

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the targeted sockets (and close their connections when ``close``)."""
        await self._target.publish(
            MessageType.DISCONNECT_SOCKETS, {"opts": self._opts(), "close": close}
        )


class PostgresEmitter(EmitterShortcuts[PostgresBroadcastOperator]):
    """Publishes to the servers of a cluster that use the PostgreSQL adapter.

    ``db`` is an asyncpg ``Pool`` or ``Connection``; ``channel_prefix``, ``table_name`` and
    ``payload_threshold`` must match the adapters'.
    """

    __slots__ = ("_options", "_target", "db")

    def __init__(
        self,
        db: Queryable,
        nsp: str = "/",
        *,
        channel_prefix: str = "socket.io",
        table_name: str = "socket_io_attachments",
        payload_threshold: int = 8000,
    ) -> None:
        if not _IDENTIFIER.match(table_name):
            raise ValueError(f"not a plain table name: {table_name!r}")
        self.db = db
        self._options = (channel_prefix, table_name, payload_threshold)
        self._target = _Target(db, channel_prefix, nsp, table_name, payload_threshold)

    @property
    def nsp(self) -> str:
        """The namespace this emitter targets."""
        return self._target.nsp

    def of(self, nsp: str) -> PostgresEmitter:
        """An emitter for another namespace (``"admin"`` and ``"/admin"`` are the same)."""
        prefix, table_name, threshold = self._options
        return PostgresEmitter(
            self.db,
            nsp if nsp.startswith("/") else f"/{nsp}",
            channel_prefix=prefix,
            table_name=table_name,
            payload_threshold=threshold,
        )

    def _operator(self) -> PostgresBroadcastOperator:
        return PostgresBroadcastOperator(self._target)

    async def server_side_emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to the namespace's server-side listeners on every server (no acks)."""
        if args and callable(args[-1]):
            raise ValueError("acknowledgements are not supported")
        await self._target.publish(MessageType.SERVER_SIDE_EMIT, {"packet": [event, *args]})
