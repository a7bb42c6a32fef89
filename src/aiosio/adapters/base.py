"""The adapter interface: rooms, broadcasts and cross-server operations for one namespace.

An adapter belongs to exactly one namespace. It keeps the room membership of the namespace's sockets and
delivers broadcasts to them. A cluster adapter additionally forwards broadcasts and requests to the other
servers of the cluster and answers theirs.

The adapter never sees the namespace or socket classes. It is constructed as ``AdapterClass(nsp)`` where
``nsp`` satisfies :class:`AdapterNamespace` (name, the ``id -> socket`` mapping, the encoder, an ack-id
counter, the entry point of server-side events from other servers), and each socket satisfies
:class:`AdapterSocket` (rooms, ``deliver`` for a broadcast encoded once, ``add_ack`` / ``remove_ack``
for the acknowledgements of a broadcast). Both are public methods of :class:`~aiosio.Namespace` and
:class:`~aiosio.Socket`, the only ones of theirs an adapter calls.

Which operations are synchronous and which are coroutines:

* Local bookkeeping and fire-and-forget operations are plain methods: :meth:`Adapter.add_all`,
  :meth:`Adapter.del_`, :meth:`Adapter.del_all`, :meth:`Adapter.socket_rooms`, :meth:`Adapter.broadcast`,
  :meth:`Adapter.add_sockets`, :meth:`Adapter.del_sockets`, :meth:`Adapter.disconnect_sockets`,
  :meth:`Adapter.server_side_emit`, :meth:`Adapter.persist_session`. A cluster adapter publishes the remote
  part in the background.
* Operations that need answers from other servers are coroutines: :meth:`Adapter.server_count`,
  :meth:`Adapter.sockets`, :meth:`Adapter.fetch_sockets`, :meth:`Adapter.server_side_emit_with_ack`,
  :meth:`Adapter.restore_session`.
* :meth:`Adapter.broadcast_with_ack` reports through callbacks, as answers trickle in: once per server
  with the number of clients it reached, once per client acknowledgement. The caller (the
  :class:`~aiosio.server.broadcast.BroadcastOperator`) compares the counts with :meth:`server_count` and
  owns the timeout.
* :meth:`Adapter.init` and :meth:`Adapter.close` may return an awaitable (connect to / leave the cluster).

Room events, emitted through :meth:`Adapter.on`: ``"create-room"`` (room), ``"delete-room"`` (room),
``"join-room"`` (room, sid), ``"leave-room"`` (room, sid).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from aiosio._handlers import Emitter

if TYPE_CHECKING:
    from aiosio.protocol.socketio import Packet

__all__ = [
    "Adapter",
    "AdapterNamespace",
    "AdapterSocket",
    "BroadcastFlags",
    "BroadcastOptions",
    "RecoveryOptions",
    "RecoveryOptionsDict",
    "Session",
    "SessionToPersist",
    "SocketDetails",
]

logger = logging.getLogger("aiosio.adapter")


@dataclass(frozen=True, slots=True)
class BroadcastFlags:
    """Modifiers of a broadcast.

    ``volatile``: may be dropped for a client that cannot take it now. ``compress``: ask the transport to
    compress (``None`` = transport default). ``local``: only this server. ``timeout``: seconds to wait
    for acknowledgements (``None``: wait without a limit). ``expect_single_response``: the operator targets
    one socket (:class:`~aiosio.server.broadcast.RemoteSocket`) and returns its single answer.
    """

    volatile: bool = False
    compress: bool | None = None
    local: bool = False
    timeout: float | None = None
    expect_single_response: bool = False


NO_FLAGS = BroadcastFlags()


@dataclass(frozen=True, slots=True)
class BroadcastOptions:
    """Who receives a broadcast: sockets in any of ``rooms`` (every socket when empty), minus those in
    any of ``except_``."""

    rooms: frozenset[str] = frozenset()
    except_: frozenset[str] = frozenset()
    flags: BroadcastFlags = NO_FLAGS


class RecoveryOptionsDict(TypedDict, total=False):
    """:class:`RecoveryOptions` as a dict (``Server(connection_state_recovery={...})``)."""

    max_disconnection_duration: float
    skip_middlewares: bool


@dataclass(frozen=True, slots=True)
class RecoveryOptions:
    """Connection state recovery settings (``Server(connection_state_recovery=...)``).

    ``max_disconnection_duration`` (120): seconds a disconnected client may come back within and find
    its id, rooms, data and missed packets. ``skip_middlewares`` (True): a recovered socket does not
    go through the connection middlewares again.
    """

    max_disconnection_duration: float = 120.0
    skip_middlewares: bool = True

    def __post_init__(self) -> None:
        duration = self.max_disconnection_duration
        if isinstance(duration, bool) or not isinstance(duration, int | float) or duration < 0:
            raise ValueError(
                f"max_disconnection_duration must be a number of seconds >= 0, not {duration!r}"
            )
        object.__setattr__(self, "max_disconnection_duration", float(duration))
        object.__setattr__(self, "skip_middlewares", bool(self.skip_middlewares))

    @classmethod
    def from_option(
        cls, value: bool | RecoveryOptions | RecoveryOptionsDict | None
    ) -> RecoveryOptions | None:
        """The settings a ``connection_state_recovery`` option asks for (``None``: off)."""
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, RecoveryOptions):
            return value
        if isinstance(value, dict):
            unknown = set(value) - set(RecoveryOptionsDict.__annotations__)
            if unknown:
                raise ValueError(f"unknown connection_state_recovery options: {sorted(unknown)}")
            return cls(**value)
        raise TypeError("connection_state_recovery must be None, True, a dict or RecoveryOptions")


@dataclass(slots=True)
class SessionToPersist:
    """What a socket leaves behind when it disconnects for a recoverable reason."""

    sid: str
    pid: str
    rooms: list[str]
    data: Any


@dataclass(slots=True)
class Session(SessionToPersist):
    """A restored session: the persisted state plus the event packets the client missed.

    Each entry of ``missed_packets`` is the data of an EVENT packet: ``[event, *args, offset]``.
    """

    missed_packets: list[list[Any]] = field(default_factory=list)


@dataclass(slots=True)
class SocketDetails:
    """A socket that lives on another server, as :meth:`Adapter.fetch_sockets` reports it."""

    id: str
    handshake: Any
    rooms: list[str]
    data: Any


class AdapterSocket(Protocol):
    """What an adapter may use of a local socket."""

    @property
    def id(self) -> str: ...

    @property
    def handshake(self) -> Any: ...

    @property
    def data(self) -> Any: ...

    @property
    def rooms(self) -> set[str]: ...

    def join(self, rooms: str | Iterable[str]) -> None:
        """Join one room or several."""

    def leave(self, room: str) -> None:
        """Leave a room."""

    def disconnect(self, close: bool = False) -> Any:
        """Disconnect from the namespace (and close the connection when ``close``)."""

    def deliver(
        self,
        packet: Packet,
        encoded: Sequence[str | bytes],
        volatile: bool,
        compress: bool | None,
    ) -> None:
        """Write a packet encoded once for every recipient (and tell outgoing listeners)."""

    def add_ack(self, ack_id: int, callback: Callable[..., None]) -> None:
        """Call ``callback(*args)`` when the client acknowledges packet ``ack_id``."""

    def remove_ack(self, ack_id: int) -> None:
        """Forget the acknowledgement callback of ``ack_id`` (after a timeout)."""


class AdapterNamespace(Protocol):
    """What an adapter may use of its namespace."""

    @property
    def name(self) -> str: ...

    @property
    def sockets(self) -> Mapping[str, AdapterSocket]: ...

    @property
    def encoder(self) -> Any:
        """The packet encoder: ``encode(packet) -> list[str | bytes]``."""

    @property
    def recovery(self) -> RecoveryOptions | None:
        """Connection state recovery settings, or ``None`` when it is off."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the server runs on, or ``None`` before it has started."""

    def next_ack_id(self) -> int:
        """A fresh acknowledgement id, unique within the namespace."""

    def handle_server_side_emit(
        self, event: str, args: list[Any], ack: Callable[..., None] | None
    ) -> None:
        """Deliver a server-side event that came from another server to the local listeners."""


class Adapter(Emitter):
    """The interface every adapter implements. See the module docstring for the contract.

    Subclasses are constructed with the namespace only: ``adapter = Adapter(nsp)``.
    """

    __slots__ = ("nsp",)

    _logger = logger

    def __init__(self, nsp: AdapterNamespace) -> None:
        super().__init__()
        self.nsp = nsp

    # -- life cycle -------------------------------------------------------------------------------

    def init(self) -> Awaitable[None] | None:
        """Start the adapter (a cluster adapter subscribes to its channels here)."""
        return None

    def close(self) -> Awaitable[None] | None:
        """Stop the adapter and release what it holds."""
        return None

    async def server_count(self) -> int:
        """The number of servers in the cluster, this one included."""
        return 1

    # -- rooms of local sockets -------------------------------------------------------------------

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        """Make socket ``sid`` join every room of ``rooms``."""
        raise NotImplementedError

    def del_(self, sid: str, room: str) -> None:
        """Make socket ``sid`` leave ``room``."""
        raise NotImplementedError

    def del_all(self, sid: str) -> None:
        """Make socket ``sid`` leave every room (it is going away)."""
        raise NotImplementedError

    def socket_rooms(self, sid: str) -> set[str] | None:
        """The rooms of local socket ``sid`` (the live set: do not modify), or ``None``."""
        raise NotImplementedError

    async def sockets(self, rooms: Iterable[str]) -> set[str]:
        """The ids of the sockets in any of ``rooms`` (every socket when empty)."""
        raise NotImplementedError

    # -- broadcasting -----------------------------------------------------------------------------

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        """Send ``packet`` to every matching socket. ``packet.nsp`` is set by the adapter."""
        raise NotImplementedError

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count_callback: Callable[[int], None],
        ack: Callable[..., None],
    ) -> None:
        """Send ``packet`` with an ack id to every matching socket.

        ``client_count_callback(n)`` is called once per server with the number of clients it reached;
        ``ack(*args)`` once per client acknowledgement.
        """
        raise NotImplementedError

    def remove_acks(self, ack_id: int, opts: BroadcastOptions) -> None:
        """Drop the pending acknowledgement ``ack_id`` of the matching local sockets (after a timeout)."""
        return None

    # -- operations on matching sockets -----------------------------------------------------------

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[AdapterSocket | SocketDetails]:
        """The matching sockets: local ones as socket objects, remote ones as :class:`SocketDetails`.

        A cluster adapter raises :class:`~aiosio.exceptions.RequestTimeoutError` (with the sockets
        gathered so far in ``responses``) when some server does not answer in time.
        """
        raise NotImplementedError

    def add_sockets(self, opts: BroadcastOptions, rooms: Sequence[str]) -> None:
        """Make the matching sockets join ``rooms``."""
        raise NotImplementedError

    def del_sockets(self, opts: BroadcastOptions, rooms: Sequence[str]) -> None:
        """Make the matching sockets leave ``rooms``."""
        raise NotImplementedError

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        """Disconnect the matching sockets (and close their connections when ``close``)."""
        raise NotImplementedError

    # -- server-side events -----------------------------------------------------------------------

    def server_side_emit(self, event: str, args: Sequence[Any]) -> None:
        """Send an event to the listeners of this namespace on the *other* servers."""
        return None

    async def server_side_emit_with_ack(self, event: str, args: Sequence[Any]) -> list[Any]:
        """Like :meth:`server_side_emit`, and return one response per other server.

        Raises :class:`~aiosio.exceptions.AckTimeoutError` (with the partial ``responses``) when some
        server does not answer within the adapter's own request timeout.
        """
        return []

    # -- connection state recovery ----------------------------------------------------------------

    def persist_session(self, session: SessionToPersist) -> None:
        """Keep the state of a socket that disconnected, for a later :meth:`restore_session`."""
        return None

    async def restore_session(self, pid: str, offset: str) -> Session | None:
        """The session ``pid`` with the packets sent after ``offset``, or ``None`` if unknown/expired."""
        return None
