"""Test clients connected to a :class:`~aiosio.Server` in the same process: no socket, no port.

::

    import aiosio
    import aiosio.testing

    async def test_chat(io: aiosio.Server) -> None:
        async with aiosio.testing.connect(io, auth={"token": "abc"}) as alice:
            assert await alice.emit_with_ack("chat", "hello") == "ok"
            assert await alice.receive() == ("chat", "hello")

Each client is the real asyncio client (:mod:`aiosio.client`: Manager and Socket) over an Engine.IO
session that enters the server through the engine seam (``io.engine.handle_websocket``) instead of
a network, so the server runs exactly as in production: middlewares, ``allow_request``, namespaces,
rooms, acknowledgements, handlers in their tasks, disconnection reasons. Needs the ``client`` extra
(aiohttp, which the client package imports).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, TypeVar, overload

from ..client import Auth, Manager, Socket
from ..server import Server
from .engine import InProcessEngine

__all__ = ["InProcessEngine", "TestClient", "connect", "connect_many"]

F = TypeVar("F", bound=Callable[..., Any])

#: The URL test clients pretend to reach (the server never looks at it).
URL = "http://testserver"


class TestClient:
    """One in-process client connected to a namespace.

    Events the server emits wait in a queue for :meth:`receive` (handlers registered with :meth:`on`
    see them too). ``socket`` is the underlying :class:`aiosio.client.Socket` for everything else
    (``volatile``, ``on_any``, ``recovered``...).
    """

    __test__ = False  # not a pytest test class

    def __init__(self, socket: Socket) -> None:
        self.socket = socket
        self._events: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        socket.on_any(self._on_event)

    def __repr__(self) -> str:
        return f"<TestClient nsp={self.socket.nsp!r} id={self.id!r}>"

    def _on_event(self, event: str, *args: Any) -> None:
        self._events.put_nowait((event, *args))

    @property
    def id(self) -> str | None:
        """The session id the server gave this client (``socket.id`` on the server side)."""
        return self.socket.id

    @property
    def connected(self) -> bool:
        """Whether the namespace is connected."""
        return self.socket.connected

    @overload
    def on(self, event: str, handler: F) -> F: ...
    @overload
    def on(self, event: str, handler: None = None) -> Callable[[F], F]: ...
    def on(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Register a client-side handler (its return value answers the server's acks).

        Without ``handler``, a decorator.
        """
        return self.socket.on(event, handler)

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to the server."""
        self.socket.emit(event, *args)

    async def emit_with_ack(
        self,
        event: str,
        *args: Any,
        timeout: float | None = 5.0,  # noqa: ASYNC109 (a test must not hang: a default deadline)
    ) -> Any:
        """Send ``event`` and return the acknowledgement (``None``, one value, or a tuple).

        Raises :class:`~aiosio.AckTimeoutError` after ``timeout`` seconds (``None``: never).
        """
        if timeout is None:
            return await self.socket.emit_with_ack(event, *args)
        return await self.socket.timeout(timeout).emit_with_ack(event, *args)

    async def receive(self, timeout: float | None = 5.0) -> tuple[Any, ...]:  # noqa: ASYNC109
        """The next event from the server as ``(event, *args)``; ``TimeoutError`` after ``timeout``."""
        async with asyncio.timeout(timeout):
            return await self._events.get()

    def pending(self) -> list[tuple[Any, ...]]:
        """Every event received and not yet taken, taken now (empty when none)."""
        events = []
        while not self._events.empty():
            events.append(self._events.get_nowait())
        return events

    async def disconnect(self) -> None:
        """Leave the namespace and close the session (the server sees "client namespace disconnect")."""
        await self.socket.disconnect()
        await self.socket.io.close()


async def open_client(
    io: Server,
    namespace: str = "/",
    *,
    auth: Auth = None,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, Any] | None = None,
    timeout: float = 5.0,  # noqa: ASYNC109
    client_address: tuple[str, int] | None = None,
    **manager_options: Any,
) -> TestClient:
    """Connect a :class:`TestClient`; the caller disconnects it. See :func:`connect`."""
    manager = Manager(
        URL,
        query=query,
        extra_headers=headers,
        transports=["websocket"],
        reconnection=manager_options.pop("reconnection", False),
        engine_factory=InProcessEngine.factory(io.engine, client_address=client_address),
        **manager_options,
    )
    socket = manager.socket(namespace, auth=auth)
    client = TestClient(socket)  # listening before the connection: no event is missed
    try:
        async with asyncio.timeout(timeout):
            await socket.connect()
    except BaseException:
        socket.disconnect()
        await manager.close()
        raise
    return client


@contextlib.asynccontextmanager
async def connect(
    io: Server,
    namespace: str = "/",
    *,
    auth: Auth = None,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, Any] | None = None,
    timeout: float = 5.0,  # noqa: ASYNC109
    **manager_options: Any,
) -> AsyncIterator[TestClient]:
    """``async with connect(io, ...) as client``: a client of ``namespace``, disconnected on exit.

    ``auth``, ``headers`` and ``query`` reach the server's handshake as a browser's would. A refusal
    raises :class:`~aiosio.ConnectRefusedError` with the server's ``message`` and ``data``; no
    connection within ``timeout`` seconds raises ``TimeoutError``. ``manager_options`` go to
    :class:`aiosio.client.Manager` (reconnection is off by default: a test sees a disconnection).
    """
    client = await open_client(
        io, namespace, auth=auth, headers=headers, query=query, timeout=timeout, **manager_options
    )
    try:
        yield client
    finally:
        await client.disconnect()


@contextlib.asynccontextmanager
async def connect_many(
    io: Server, count: int, namespace: str = "/", **options: Any
) -> AsyncIterator[list[TestClient]]:
    """``count`` clients connected at once (``options`` as for :func:`connect`)."""
    clients = await asyncio.gather(
        *(open_client(io, namespace, **options) for _ in range(count)), return_exceptions=True
    )
    connected = [c for c in clients if isinstance(c, TestClient)]
    try:
        for result in clients:
            if isinstance(result, BaseException):
                raise result
        yield connected
    finally:
        await asyncio.gather(*(c.disconnect() for c in connected))
