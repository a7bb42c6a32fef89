"""Namespaces: the main one (``"/"``), static ones, and parent namespaces that create children."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiosio._handlers import EAGER_TASKS, Listeners, invoke, spawn
from aiosio.adapters.base import Adapter, BroadcastOptions, RecoveryOptions
from aiosio.adapters.memory import InMemoryAdapter
from aiosio.protocol.socketio import Packet, PacketType
from aiosio.server.broadcast import Broadcasting, BroadcastOperator
from aiosio.server.socket import Socket

if TYPE_CHECKING:
    from aiosio.protocol.socketio import EncoderLike
    from aiosio.server.connection import Connection
    from aiosio.server.server import Server

__all__ = ["Namespace", "ParentNamespace"]

logger = logging.getLogger("aiosio.server")

#: Events a namespace emits itself; ``server_side_emit`` may not use them.
NAMESPACE_RESERVED = frozenset({"connect", "connection", "new_namespace"})

Middleware = Callable[[Socket], Any]


def _error_payload(exc: BaseException) -> dict[str, Any]:
    payload: dict[str, Any] = {"message": str(exc)}
    data = getattr(exc, "data", None)
    if data is not None:
        payload["data"] = data
    return payload


def _legacy_error_payload(exc: BaseException) -> Any:
    """What Socket.IO v4 clients (socket.io-client 2.x) get: the error's data, else its message."""
    data = getattr(exc, "data", None)
    if data is None or data is False or data == "" or (type(data) in (int, float) and data == 0):
        return str(exc)
    return data


class Namespace(Listeners, Broadcasting):
    """A communication channel with its own handlers, rooms and middlewares.

    ``"connection"`` (alias ``"connect"``) handlers receive each new :class:`Socket`. Other event
    names registered with :meth:`on` receive the server-side events other servers of a cluster send
    with :meth:`server_side_emit`.
    """

    __slots__ = (
        "__weakref__",
        "_fns",
        "_ids",
        "_joining",
        "_parent",
        "adapter",
        "name",
        "server",
        "sockets",
    )

    def __init__(self, server: Server, name: str) -> None:
        self.server = server
        #: the namespace name, like ``"/"`` or ``"/chat"``
        self.name = name
        #: the connected sockets, by id
        self.sockets: dict[str, Socket] = {}
        Listeners.__init__(self)
        self._fns: list[Middleware] = []
        self._ids = 0
        self._parent: ParentNamespace | None = None
        self._joining = 0  # sockets between CONNECT and connected (or refused)
        self.adapter: Adapter = self._make_adapter()
        self._init_adapter()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} sockets={len(self.sockets)}>"

    def _make_adapter(self) -> Adapter:
        return self.server.adapter_factory(self)

    def _init_adapter(self) -> None:
        result = self.adapter.init()
        if result is not None and inspect.isawaitable(result):
            self.server._start_or_defer(result)

    # -- what the adapter sees --------------------------------------------------------------------

    @property
    def encoder(self) -> EncoderLike:
        """The packet encoder shared by the server."""
        return self.server.encoder

    @property
    def recovery(self) -> RecoveryOptions | None:
        """Connection state recovery settings, or ``None``."""
        return self.server.recovery

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop the server runs on, or ``None`` before it has started."""
        return self.server.loop

    def _next_ack_id(self) -> int:
        ack_id = self._ids
        self._ids = ack_id + 1
        return ack_id

    def _on_server_side_emit(
        self, event: str, args: list[Any], ack: Callable[..., None] | None
    ) -> None:
        for i, handler in enumerate(tuple(self._handlers.get(event, ()))):
            done = ack if i == 0 else None
            invoke(handler, args, done, logger, f"server-side {event!r} handler")

    # -- middlewares ------------------------------------------------------------------------------

    def use(self, fn: Middleware) -> Any:
        """Add a middleware run for every socket that connects, before ``"connection"``.

        ``fn(socket)`` may be a plain function or a coroutine function. To refuse the connection,
        raise: the client receives a CONNECT_ERROR with ``{"message": str(exc)}``, plus ``"data"`` when
        the exception has a ``data`` attribute (see :class:`aiosio.exceptions.ConnectRefusedError`).
        Returns ``fn`` so that it works as a decorator.
        """
        if not callable(fn):
            raise TypeError("middleware must be callable")
        self._fns.append(fn)
        return fn

    # -- connecting sockets -----------------------------------------------------------------------

    async def _add(self, connection: Connection, auth: dict[str, Any]) -> None:
        self._joining += 1
        try:
            await self._join(connection, auth)
        finally:
            self._joining -= 1
            self._discard_if_empty()  # a child nobody could join does not stay behind

    async def _join(self, connection: Connection, auth: dict[str, Any]) -> None:
        socket = await self._create_socket(connection, auth)
        recovery = self.server.recovery
        if (
            socket.recovered
            and recovery is not None
            and recovery.skip_middlewares
            and connection.is_open
        ):
            self._do_connect(socket, connection)
            return
        for fn in list(self._fns):
            try:
                result = fn(socket)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                socket._cleanup()
                if connection.is_open:
                    logger.debug("middleware refused a socket in %s: %s", self.name, exc)
                    payload = (
                        _legacy_error_payload(exc)
                        if connection.protocol == 3
                        else _error_payload(exc)
                    )
                    connection.write_packet(Packet(PacketType.CONNECT_ERROR, self.name, payload))
                return
        if not connection.is_open:
            socket._cleanup()
            return
        self._do_connect(socket, connection)

    async def _create_socket(self, connection: Connection, auth: dict[str, Any]) -> Socket:
        if self.server.recovery is not None:
            pid = auth.get("pid")
            offset = auth.get("offset")
            if isinstance(pid, str) and isinstance(offset, str):
                try:
                    session = await self.adapter.restore_session(pid, offset)
                except Exception:
                    logger.exception("restoring a session failed")
                    session = None
                if session is not None:
                    return Socket(self, connection, auth, session)
        return Socket(self, connection, auth)

    def _do_connect(self, socket: Socket, connection: Connection) -> None:
        logger.debug("adding socket %s to nsp %s", socket.id, self.name)
        self.sockets[socket.id] = socket
        socket._on_connect()
        connection._attach(socket)
        if EAGER_TASKS:
            self._call_handlers("connect", (socket,))
            self._call_handlers("connection", (socket,))
            return
        # Scheduled Tasks (3.11): the client's next packets wait until the connection handlers'
        # Tasks have taken their first step (the ready queue is FIFO), so that the handlers they
        # register before their first ``await`` are in place, as with eager Tasks.
        socket._hold_packets()
        self._call_handlers("connect", (socket,))
        self._call_handlers("connection", (socket,))
        asyncio.get_running_loop().call_soon(socket._release_packets)

    def _remove(self, socket: Socket) -> None:
        if self.sockets.get(socket.id) is socket:
            del self.sockets[socket.id]
        self._discard_if_empty()

    def _discard_if_empty(self) -> None:
        parent = self._parent
        if (
            parent is not None
            and not self.sockets
            and not self._joining
            and self.server.cleanup_empty_child_namespaces
        ):
            parent._remove_child(self)

    # -- broadcasting -----------------------------------------------------------------------------

    def _operator(self) -> BroadcastOperator:
        return BroadcastOperator(self.adapter)

    async def all_sockets(self) -> set[str]:
        """The ids of every socket of the namespace."""
        return await self.adapter.sockets(())

    # -- server-side events -----------------------------------------------------------------------

    def server_side_emit(self, event: str, *args: Any) -> None:
        """Send an event to this namespace's listeners on the other servers of the cluster.

        On a single server this does nothing.
        """
        if event in NAMESPACE_RESERVED:
            raise ValueError(f"{event!r} is a reserved event name")
        self.adapter.server_side_emit(event, list(args))

    async def server_side_emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Like :meth:`server_side_emit`; return one answer per other server."""
        if event in NAMESPACE_RESERVED:
            raise ValueError(f"{event!r} is a reserved event name")
        return await self.adapter.server_side_emit_with_ack(event, list(args))


class _ParentBroadcastAdapter(InMemoryAdapter):
    """The adapter of a parent namespace: it only broadcasts, to every child namespace."""

    __slots__ = ()

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        nsp = self.nsp
        assert isinstance(nsp, ParentNamespace)
        for child in list(nsp.children):
            copy = Packet(packet.type, child.name, list(packet.data), packet.id)
            child.adapter.broadcast(copy, opts)


NameMatcher = Callable[[str, dict[str, Any]], "bool | Awaitable[bool]"]


class ParentNamespace(Namespace):
    """A namespace created with a regular expression or a predicate: it creates child namespaces.

    Each child gets the middlewares and connection handlers the parent had when it was created.
    Emitting on the parent emits on every child.
    """

    __slots__ = ("children", "matcher")

    _count = itertools.count()

    def __init__(self, server: Server, matcher: NameMatcher) -> None:
        self.children: set[Namespace] = set()
        self.matcher = matcher
        super().__init__(server, f"/_{next(self._count)}")

    def _make_adapter(self) -> Adapter:
        return _ParentBroadcastAdapter(self)

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to every socket of every child namespace."""
        for child in list(self.children):
            child.emit(event, *args)

    async def fetch_sockets(self) -> list[Any]:
        """Not supported on parent namespaces (as in the reference)."""
        raise RuntimeError("fetch_sockets() is not supported on parent namespaces")

    def create_child(self, name: str) -> Namespace:
        """Create (and register with the server) the child namespace ``name``."""
        child = Namespace(self.server, name)
        child._parent = self
        for fn in self._fns:
            child.use(fn)
        for event in ("connect", "connection"):
            for handler in self.listeners(event):
                child.on(event, handler)
        self.children.add(child)
        self.server._nsps[name] = child
        self.server._events.emit("new_namespace", child)
        return child

    def _remove_child(self, child: Namespace) -> None:
        if child not in self.children:
            return
        logger.debug("closing empty child namespace %s", child.name)
        self.children.discard(child)
        if self.server._nsps.get(child.name) is child:
            del self.server._nsps[child.name]
        result = child.adapter.close()
        if result is not None and inspect.isawaitable(result):
            spawn(_await(result))


async def _await(awaitable: Awaitable[Any]) -> None:
    await awaitable
