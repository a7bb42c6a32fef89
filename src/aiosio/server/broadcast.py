"""Broadcasting: the immutable BroadcastOperator, the broadcast methods of namespaces and sockets,
RemoteSocket, and argument helpers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from aiosio._handlers import start
from aiosio._loop import off_loop
from aiosio.adapters._targeting import (
    ModifierShortcuts,
    RoomTargeting,
    TargetingShortcuts,
    rooms_of,
)
from aiosio.adapters.base import NO_FLAGS, BroadcastFlags, BroadcastOptions, SocketDetails
from aiosio.exceptions import AckTimeoutError, RequestTimeoutError
from aiosio.protocol.socketio import RESERVED_EVENTS, Packet, PacketType, ack_value

if TYPE_CHECKING:
    from aiosio.adapters.base import Adapter, AdapterSocket

__all__ = [
    "PLAIN_TYPES",
    "BroadcastOperator",
    "Broadcasting",
    "RemoteSocket",
    "Targeting",
    "prepare_args",
    "rooms_of",
]

logger = logging.getLogger("aiosio.server")

#: Argument types the encoder takes as they are (``prepare_args`` leaves them alone).
PLAIN_TYPES = frozenset((str, int, float, bool, dict, list, type(None), bytes))


def prepare_args(args: Iterable[Any]) -> list[Any]:
    """Turn outgoing arguments into what the encoder takes: binary views and files become ``bytes``."""
    out = list(args)
    for value in out:
        if type(value) not in PLAIN_TYPES:
            break
    else:
        return out
    for i, value in enumerate(out):
        if type(value) in PLAIN_TYPES:
            continue
        if isinstance(value, (bytearray, memoryview)):
            out[i] = bytes(value)
        elif isinstance(value, tuple):
            out[i] = list(value)
        elif hasattr(value, "read") and callable(value.read):
            content = value.read()
            if isinstance(content, str):
                raise TypeError("file arguments must be opened in binary mode")
            out[i] = bytes(content)
    return out


class BroadcastOperator(RoomTargeting):
    """Who and how to broadcast to. Immutable: every modifier returns a new operator.

    ::

        io.to("room1").except_("room2").volatile.emit("hello")
        answers = await io.timeout(5).emit_with_ack("question")
    """

    __slots__ = ("_adapter", "_flags")

    def __init__(
        self,
        adapter: Adapter,
        rooms: frozenset[str] = frozenset(),
        except_: frozenset[str] = frozenset(),
        flags: BroadcastFlags = NO_FLAGS,
    ) -> None:
        self._adapter = adapter
        self._rooms = rooms
        self._except = except_
        self._flags = flags

    def __repr__(self) -> str:
        return (
            f"<BroadcastOperator rooms={set(self._rooms)} except={set(self._except)} {self._flags}>"
        )

    @property
    def rooms(self) -> frozenset[str]:
        """The targeted rooms (empty: every socket)."""
        return self._rooms

    @property
    def excluded_rooms(self) -> frozenset[str]:
        """The excluded rooms."""
        return self._except

    @property
    def flags(self) -> BroadcastFlags:
        """The modifiers."""
        return self._flags

    def _options(self) -> BroadcastOptions:
        return BroadcastOptions(self._rooms, self._except, self._flags)

    def _with_flags(self, **changes: Any) -> BroadcastOperator:
        f = self._flags
        flags = BroadcastFlags(
            volatile=changes.get("volatile", f.volatile),
            compress=changes.get("compress", f.compress),
            local=changes.get("local", f.local),
            timeout=changes.get("timeout", f.timeout),
            expect_single_response=f.expect_single_response,
        )
        return BroadcastOperator(self._adapter, self._rooms, self._except, flags)

    def _with_rooms(self, rooms: frozenset[str], except_: frozenset[str]) -> BroadcastOperator:
        return BroadcastOperator(self._adapter, rooms, except_, self._flags)

    # -- modifiers (to, in_, except_, compress and volatile come from RoomTargeting) ----------------

    @property
    def local(self) -> BroadcastOperator:
        """Only the sockets of this server (in a cluster)."""
        return self._with_flags(local=True)

    def timeout(self, seconds: float) -> BroadcastOperator:
        """How long :meth:`emit_with_ack` waits for the acknowledgements."""
        if seconds < 0:
            raise ValueError("timeout must not be negative")
        return self._with_flags(timeout=float(seconds))

    # -- emitting ---------------------------------------------------------------------------------

    def _hop(self, method: Callable[..., None], *args: Any) -> bool:
        """From another thread, schedule ``method(*args)`` on the server's loop and say so."""
        loop = self._adapter.nsp.loop
        if off_loop(loop):
            assert loop is not None
            loop.call_soon_threadsafe(method, *args)
            return True
        return False

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to every targeted socket. The packet is encoded once.

        Safe to call from any thread: from outside the server's loop, the emit is handed to the loop,
        in the order the calling thread made its calls.
        """
        if event in RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved event name")
        if self._hop(self.emit, event, *args):
            return
        packet = Packet(PacketType.EVENT, "/", [event, *prepare_args(args)])
        self._adapter.broadcast(packet, self._options())

    def send(self, *args: Any) -> None:
        """Emit a ``"message"`` event."""
        self.emit("message", *args)

    def emit_with_ack(self, event: str, *args: Any) -> asyncio.Future[Any]:
        """Send ``event`` and return a future of every client's acknowledgement (a list).

        With :meth:`timeout`, the future fails with ``AckTimeoutError`` when some client has not
        answered in time; the error's ``responses`` holds the answers that did arrive.
        """
        if event in RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved event name")
        if off_loop(self._adapter.nsp.loop):
            raise RuntimeError(
                "emit_with_ack() called outside the server's event loop: "
                "use io.run_threadsafe(operator.emit_with_ack, ...) from other threads"
            )
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        collector = _AckCollector(future, self._flags.expect_single_response)
        packet = Packet(PacketType.EVENT, "/", [event, *prepare_args(args)])
        opts = self._options()
        adapter = self._adapter
        if self._flags.timeout is not None:

            def timed_out() -> None:
                if packet.id is not None:
                    adapter.remove_acks(packet.id, opts)
                collector.timed_out()

            collector.timer = loop.call_later(self._flags.timeout, timed_out)
        adapter.broadcast_with_ack(packet, opts, collector.client_count, collector.ack)
        start(adapter.server_count(), collector.server_count, logger, "server_count()")
        return future

    # -- operations on the targeted sockets -------------------------------------------------------

    async def fetch_sockets(self) -> list[Any]:
        """The targeted sockets: :class:`~aiosio.server.socket.Socket` objects for those on this
        server, :class:`RemoteSocket` for those on other servers.

        With a cluster adapter, when some server does not answer within :meth:`timeout` (or the
        adapter's ``requests_timeout``) this raises :class:`~aiosio.exceptions.RequestTimeoutError`
        with the reference's message (``"timeout reached while waiting for fetchSockets response"``
        with the Redis adapter); its ``responses`` holds the sockets gathered so far, wrapped the
        same way.
        """
        try:
            found = await self._adapter.fetch_sockets(self._options())
        except RequestTimeoutError as exc:
            if isinstance(exc.responses, list):
                exc.responses = self._wrap(exc.responses)
            raise
        return self._wrap(found)

    def _wrap(self, found: list[Any]) -> list[Any]:
        return [
            RemoteSocket(self._adapter, socket) if isinstance(socket, SocketDetails) else socket
            for socket in found
        ]

    def sockets_join(self, room: str | Iterable[str]) -> None:
        """Make the targeted sockets join ``room`` (one or several)."""
        if self._hop(self.sockets_join, room):
            return
        self._adapter.add_sockets(self._options(), sorted(rooms_of(room)))

    def sockets_leave(self, room: str | Iterable[str]) -> None:
        """Make the targeted sockets leave ``room`` (one or several)."""
        if self._hop(self.sockets_leave, room):
            return
        self._adapter.del_sockets(self._options(), sorted(rooms_of(room)))

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the targeted sockets (and close their connections when ``close``)."""
        if self._hop(self.disconnect_sockets, close):
            return
        self._adapter.disconnect_sockets(self._options(), close)


class Targeting(TargetingShortcuts[BroadcastOperator]):
    """``to`` / ``in_`` / ``except_`` / ``local``, each starting from ``self._operator()``.

    A socket's operator leaves the socket itself out.
    """

    __slots__ = ()

    @property
    def local(self) -> BroadcastOperator:
        """Only the sockets of this server."""
        return self._operator().local


class Broadcasting(ModifierShortcuts[BroadcastOperator], Targeting):
    """The broadcast methods of a namespace (and of the Server, for its main namespace)."""

    __slots__ = ()

    def timeout(self, seconds: float) -> BroadcastOperator:
        """How long :meth:`emit_with_ack` waits for acknowledgements."""
        return self._operator().timeout(seconds)

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to every socket of the namespace."""
        self._operator().emit(event, *args)

    def send(self, *args: Any) -> None:
        """Emit a ``"message"`` event to every socket."""
        self._operator().emit("message", *args)

    def emit_with_ack(self, event: str, *args: Any) -> asyncio.Future[Any]:
        """Send ``event`` to every socket; a future of the list of acknowledgements."""
        return self._operator().emit_with_ack(event, *args)

    async def fetch_sockets(self) -> list[Any]:
        """Every socket of the namespace (across the cluster)."""
        return await self._operator().fetch_sockets()

    def sockets_join(self, room: str | Iterable[str]) -> None:
        """Make every socket join ``room``."""
        self._operator().sockets_join(room)

    def sockets_leave(self, room: str | Iterable[str]) -> None:
        """Make every socket leave ``room``."""
        self._operator().sockets_leave(room)

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every socket."""
        self._operator().disconnect_sockets(close)


class _AckCollector:
    """Gathers the acknowledgements of a broadcast until every server and client has answered."""

    __slots__ = (
        "actual_servers",
        "expected_clients",
        "expected_servers",
        "future",
        "responses",
        "single",
        "timer",
    )

    def __init__(self, future: asyncio.Future[Any], single: bool) -> None:
        self.future = future
        self.single = single
        self.responses: list[Any] = []
        self.expected_servers = -1
        self.actual_servers = 0
        self.expected_clients = 0
        self.timer: asyncio.TimerHandle | None = None

    def client_count(self, count: int) -> None:
        self.expected_clients += count
        self.actual_servers += 1
        self._check()

    def server_count(self, count: int) -> None:
        self.expected_servers = count
        self._check()

    def ack(self, *args: Any) -> None:
        if self.future.done():
            return
        self.responses.append(ack_value(args))
        self._check()

    def _check(self) -> None:
        if self.future.done():
            return
        if (
            self.expected_servers == self.actual_servers
            and len(self.responses) == self.expected_clients
        ):
            if self.timer is not None:
                self.timer.cancel()
            if self.single:
                self.future.set_result(self.responses[0] if self.responses else None)
            else:
                self.future.set_result(self.responses)

    def timed_out(self) -> None:
        if self.future.done():
            return
        responses = None if self.single else list(self.responses)
        self.future.set_exception(AckTimeoutError(responses=responses))


class RemoteSocket:
    """A socket found by ``fetch_sockets()`` on another server of the cluster.

    It offers the subset of :class:`~aiosio.server.socket.Socket` that works across servers.
    """

    __slots__ = ("_operator", "data", "handshake", "id", "rooms")

    def __init__(self, adapter: Adapter, details: SocketDetails | AdapterSocket) -> None:
        self.id: str = details.id
        self.handshake: Any = details.handshake
        self.rooms: set[str] = set(details.rooms)
        self.data: Any = details.data
        self._operator = BroadcastOperator(
            adapter,
            frozenset((self.id,)),
            frozenset(),
            BroadcastFlags(expect_single_response=True),
        )

    def __repr__(self) -> str:
        return f"<RemoteSocket {self.id}>"

    def timeout(self, seconds: float) -> BroadcastOperator:
        """An operator for this socket with a timeout for :meth:`BroadcastOperator.emit_with_ack`."""
        return self._operator.timeout(seconds)

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to the socket."""
        self._operator.emit(event, *args)

    def emit_with_ack(self, event: str, *args: Any) -> asyncio.Future[Any]:
        """Send ``event`` and return a future of the socket's acknowledgement."""
        return self._operator.emit_with_ack(event, *args)

    def join(self, room: str | Iterable[str]) -> None:
        """Make the socket join ``room`` (one or several)."""
        self._operator.sockets_join(room)

    def leave(self, room: str) -> None:
        """Make the socket leave ``room``."""
        self._operator.sockets_leave(room)

    def disconnect(self, close: bool = False) -> RemoteSocket:
        """Disconnect the socket (and close its connection when ``close``)."""
        self._operator.disconnect_sockets(close)
        return self
