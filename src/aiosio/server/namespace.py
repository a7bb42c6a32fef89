"""Namespaces: the main one (``"/"``), static ones, and parent namespaces that create children."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from aiosio._handlers import Listeners, invoke, spawn
from aiosio.adapters.base import Adapter, BroadcastOptions, RecoveryOptions
from aiosio.adapters.memory import InMemoryAdapter
from aiosio.protocol.socketio import Packet, PacketType
from aiosio.server.broadcast import Broadcasting, BroadcastOperator
from aiosio.server.socket import Socket

if TYPE_CHECKING:
    from aiosio.protocol.socketio import EncoderLike
    from aiosio.server.connection import Connection
    from aiosio.server.server import Server

__all__ = ["Namespace", "NamespaceTable", "ParentNamespace"]

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
        "_on_empty",
        "adapter",
        "name",
        "server",
        "sockets",
    )

    def __init__(
        self,
        server: Server,
        name: str,
        *,
        on_empty: Callable[[Namespace], None] | None = None,
    ) -> None:
        self.server = server
        #: the namespace name, like ``"/"`` or ``"/chat"``
        self.name = name
        #: the connected sockets, by id
        self.sockets: dict[str, Socket] = {}
        Listeners.__init__(self)
        self._fns: list[Middleware] = []
        self._ids = 0
        #: called when the last socket left (a child namespace goes away then)
        self._on_empty = on_empty
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
            self.server.start_soon(result)

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

    def next_ack_id(self) -> int:
        """Adapter interface: a fresh acknowledgement id, unique within the namespace."""
        ack_id = self._ids
        self._ids = ack_id + 1
        return ack_id

    def handle_server_side_emit(
        self, event: str, args: list[Any], ack: Callable[..., None] | None
    ) -> None:
        """Adapter interface: run this namespace's listeners of ``event`` for a server-side emit
        that came from another server; the first listener's return value goes to ``ack``."""
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

    async def handle_connect(self, connection: Connection, auth: dict[str, Any]) -> None:
        """Package-internal (the connection): a client asks to join this namespace. Create its
        socket (restoring its session when it may), run the middlewares, then connect it or answer
        CONNECT_ERROR."""
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
                socket.discard()
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
            socket.discard()
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
                    return Socket(self, connection, auth, session, on_gone=self._remove)
        return Socket(self, connection, auth, on_gone=self._remove)

    def _do_connect(self, socket: Socket, connection: Connection) -> None:
        logger.debug("adding socket %s to nsp %s", socket.id, self.name)
        self.sockets[socket.id] = socket
        socket.handle_accepted(self._notify_connection)

    def _notify_connection(self, socket: Socket) -> None:
        self._call_handlers("connect", (socket,))
        self._call_handlers("connection", (socket,))

    def _remove(self, socket: Socket) -> None:
        if self.sockets.get(socket.id) is socket:
            del self.sockets[socket.id]
        self._discard_if_empty()

    def _discard_if_empty(self) -> None:
        on_empty = self._on_empty
        if (
            on_empty is not None
            and not self.sockets
            and not self._joining
            and self.server.cleanup_empty_child_namespaces
        ):
            on_empty(self)

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

    __slots__ = ("_table", "children", "matcher")

    _count = itertools.count()

    def __init__(self, server: Server, matcher: NameMatcher, table: NamespaceTable) -> None:
        self.children: set[Namespace] = set()
        self.matcher = matcher
        #: the server's namespaces by name, where the children are added and removed
        self._table = table
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
        child = Namespace(self.server, name, on_empty=self._remove_child)
        for fn in self._fns:
            child.use(fn)
        for event in ("connect", "connection"):
            for handler in self.listeners(event):
                child.on(event, handler)
        self.children.add(child)
        self._table.add(child)
        return child

    def _remove_child(self, child: Namespace) -> None:
        if child not in self.children:
            return
        logger.debug("closing empty child namespace %s", child.name)
        self.children.discard(child)
        self._table.remove(child)
        result = child.adapter.close()
        if result is not None and inspect.isawaitable(result):
            spawn(_await(result))


class NamespaceTable:
    """The concrete namespaces of a server by name (package-internal): the server adds the ones
    :meth:`Server.of` makes, a dynamic parent adds and removes its children. Adding any but ``"/"``
    announces it (the server's ``"new_namespace"`` event)."""

    __slots__ = ("_by_name", "_on_new")

    def __init__(self, on_new: Callable[[Namespace], object]) -> None:
        self._by_name: dict[str, Namespace] = {}
        self._on_new = on_new

    def get(self, name: str) -> Namespace | None:
        """The namespace ``name``, if it exists."""
        return self._by_name.get(name)

    def add(self, nsp: Namespace) -> None:
        """Register ``nsp`` under its name and announce it."""
        self._by_name[nsp.name] = nsp
        if nsp.name != "/":
            self._on_new(nsp)

    def remove(self, nsp: Namespace) -> None:
        """Forget ``nsp`` (if it is still the one registered under its name)."""
        if self._by_name.get(nsp.name) is nsp:
            del self._by_name[nsp.name]

    def as_dict(self) -> dict[str, Namespace]:
        """The namespaces by name (a copy)."""
        return dict(self._by_name)

    def __iter__(self) -> Iterator[Namespace]:
        return iter(list(self._by_name.values()))

    def __len__(self) -> int:
        return len(self._by_name)


async def _await(awaitable: Awaitable[Any]) -> None:
    await awaitable
