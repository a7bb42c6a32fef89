"""Emit to the clients of a cluster from any process, as ``@socket.io/redis-emitter`` does.

The emitter publishes to Redis what the classic Redis adapter publishes (see
:mod:`aiosio.adapters.redis`), so every server of the cluster, aiosio or Node, delivers it::

    emitter = Emitter(redis.asyncio.Redis())
    await emitter.emit("time", 42)
    await emitter.of("/admin").to("room1").except_("room2").emit("hello", {"a": 1})
    await emitter.in_("room1").sockets_join("room2")

Messages carry the uid ``"emitter"``. Acknowledgements are not supported (nobody would receive them).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from redis.asyncio import Redis

from aiosio import _json
from aiosio.adapters._codec import pack
from aiosio.adapters._targeting import EmitterOperator, EmitterShortcuts
from aiosio.protocol.socketio import RESERVED_EVENTS, PacketType

__all__ = ["BroadcastOperator", "Emitter"]

UID = "emitter"
_REMOTE_JOIN = 2
_REMOTE_LEAVE = 3
_REMOTE_DISCONNECT = 4
_SERVER_SIDE_EMIT = 6


class _Target:
    __slots__ = ("broadcast_channel", "client", "nsp", "request_channel")

    def __init__(self, client: Redis, key: str, nsp: str) -> None:
        self.client = client
        self.nsp = nsp
        self.broadcast_channel = f"{key}#{nsp}#"
        self.request_channel = f"{key}-request#{nsp}#"


class BroadcastOperator(EmitterOperator):
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

    def _with_rooms(self, rooms: frozenset[str], except_: frozenset[str]) -> BroadcastOperator:
        return BroadcastOperator(self._target, rooms, except_, self._flags)

    def _with_flags(self, **changes: Any) -> BroadcastOperator:
        flags = {**self._flags, **changes}
        return BroadcastOperator(self._target, self._rooms, self._except, flags)

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
        channel = target.broadcast_channel
        if len(self._rooms) == 1:
            (room,) = self._rooms
            channel = f"{channel}{room}#"
        await target.client.publish(channel, pack([UID, packet, opts]))

    async def _request(self, body: dict[str, Any]) -> None:
        await self._target.client.publish(self._target.request_channel, _json.dumps(body))

    async def sockets_join(self, room: str | Iterable[str]) -> None:
        """Make the targeted sockets join ``room`` (one or several)."""
        rooms = [room] if isinstance(room, str) else list(room)
        await self._request({"type": _REMOTE_JOIN, "opts": self._opts(), "rooms": rooms})

    async def sockets_leave(self, room: str | Iterable[str]) -> None:
        """Make the targeted sockets leave ``room`` (one or several)."""
        rooms = [room] if isinstance(room, str) else list(room)
        await self._request({"type": _REMOTE_LEAVE, "opts": self._opts(), "rooms": rooms})

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the targeted sockets (and close their connections when ``close``)."""
        await self._request({"type": _REMOTE_DISCONNECT, "opts": self._opts(), "close": close})


class Emitter(EmitterShortcuts[BroadcastOperator]):
    """Publishes to the servers of a cluster that use the classic Redis adapter.

    ``client`` is a ``redis.asyncio.Redis``; ``key`` the channel prefix of the adapters (``"socket.io"``).
    """

    __slots__ = ("_key", "_target", "client")

    def __init__(self, client: Redis, *, key: str = "socket.io", nsp: str = "/") -> None:
        self.client = client
        self._key = key
        self._target = _Target(client, key, nsp)

    @property
    def nsp(self) -> str:
        """The namespace this emitter targets."""
        return self._target.nsp

    def of(self, nsp: str) -> Emitter:
        """An emitter for another namespace (``"admin"`` and ``"/admin"`` are the same)."""
        return Emitter(self.client, key=self._key, nsp=nsp if nsp.startswith("/") else f"/{nsp}")

    def _operator(self) -> BroadcastOperator:
        return BroadcastOperator(self._target)

    async def server_side_emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to the namespace's server-side listeners on every server (no acks)."""
        if args and callable(args[-1]):
            raise ValueError("acknowledgements are not supported")
        body = {"uid": UID, "type": _SERVER_SIDE_EMIT, "data": [event, *args]}
        await self.client.publish(self._target.request_channel, _json.dumps(body))
