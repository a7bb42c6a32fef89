"""``Client``: the blocking client with handlers, several namespaces and reconnection."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, TypeVar, overload

from .._typed import validating
from ..client import Manager, Socket
from ..exceptions import ClientConnectionError, DisconnectedError
from ..protocol.socketio import RESERVED_EVENTS
from . import _loop

__all__ = ["Client"]

F = TypeVar("F", bound=Callable[..., Any])

#: Events the blocking client reports about itself, which may accept fewer arguments than given.
_LENIENT = RESERVED_EVENTS


def _capacity(fn: Callable[..., Any]) -> int:
    """How many positional arguments ``fn`` takes (a large number with ``*args``)."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 1 << 16
    count = 0
    for param in parameters:
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            return 1 << 16
        if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


class Client:
    """A blocking Socket.IO client whose event handlers run on a worker thread.

    ::

        client = Client()

        @client.on("question")
        def question(text):          # runs on the client's worker thread
            return "answer"          # the return value answers the server's acknowledgement

        client.connect("http://127.0.0.1:3000", auth={"token": "abc"})
        client.emit("hello", "world")
        print(client.call("chat", "hi", timeout=5))
        client.wait()                # until disconnect() or the server ends the session

    The asyncio client (:mod:`aiosio.client`) does the protocol work on a background event loop shared
    by all blocking clients; every method may be called from any thread, handlers included. Handlers
    run one at a time, in arrival order, on one worker thread per client, so a slow handler never
    stalls the connection (heartbeats keep flowing). ``connect``, ``disconnect`` and
    ``connect_error`` handlers receive what the asyncio client gives them, trimmed to the arguments
    they accept. ``manager_options`` are :class:`aiosio.client.Manager` options: reconnection works
    as in the asyncio client (``reconnection``, ``reconnection_attempts``, ``reconnection_delay``,
    ``reconnection_delay_max``, ``randomization_factor``).
    """

    def __init__(self, **manager_options: Any) -> None:
        self._manager_options = manager_options
        self._handlers: dict[str, list[tuple[str, Callable[..., Any]]]] = {}
        self._manager: Manager | None = None
        self._sockets: dict[str, Socket] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._ended = threading.Event()
        self._ended.set()

    def __repr__(self) -> str:
        return f"<Client namespaces={list(self._sockets)} connected={self.connected}>"

    # -- handlers ----------------------------------------------------------------------------------

    @overload
    def on(self, event: str, handler: F, *, namespace: str = "/") -> F: ...
    @overload
    def on(self, event: str, handler: None = None, *, namespace: str = "/") -> Callable[[F], F]: ...
    def on(
        self, event: str, handler: F | None = None, *, namespace: str = "/"
    ) -> F | Callable[[F], F]:
        """Register ``handler`` for ``event`` of ``namespace``; without ``handler``, a decorator.

        The handler runs on the worker thread; for an event that asks for an acknowledgement its
        return value answers (``None``: no argument, a tuple: several).
        """
        if not isinstance(event, str):
            raise TypeError("event name must be a string")

        def add(fn: F) -> F:
            if not callable(fn):
                raise TypeError("handler must be callable")
            self._handlers.setdefault(namespace, []).append((event, fn))
            socket = self._sockets.get(namespace)
            if socket is not None:
                _loop.call(self._attach, socket, event, fn)
            return fn

        return add if handler is None else add(handler)

    def event(self, handler: F) -> F:
        """Decorator: register ``handler`` for the event named after the function."""
        return self.on(handler.__name__, handler)

    def _attach(self, socket: Socket, event: str, fn: Callable[..., Any]) -> None:
        limit = _capacity(fn) if event in _LENIENT else None
        fn = validating(fn)  # typed events, as for the asyncio client's handlers

        async def on_loop(*args: Any) -> Any:
            executor = self._executor
            if executor is None:
                return None
            call_args = args if limit is None else args[:limit]
            try:
                future = executor.submit(fn, *call_args)
            except RuntimeError:  # the client was closed meanwhile
                return None
            return await asyncio.wrap_future(future)

        on_loop.__qualname__ = getattr(fn, "__qualname__", repr(fn))
        socket.on(event, on_loop)

    # -- state -------------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether every namespace is connected now."""
        return bool(self._sockets) and all(s.connected for s in self._sockets.values())

    @property
    def sid(self) -> str | None:
        """The session id of the ``/`` namespace (or the first one connected)."""
        socket = self._sockets.get("/") or next(iter(self._sockets.values()), None)
        return None if socket is None else socket.id

    def get_sid(self, namespace: str = "/") -> str | None:
        """The session id of ``namespace``, ``None`` while it is not connected."""
        socket = self._sockets.get(namespace)
        return None if socket is None else socket.id

    @property
    def namespaces(self) -> list[str]:
        """The namespaces this client connects."""
        return list(self._sockets)

    @property
    def transport(self) -> str | None:
        """``"polling"`` or ``"websocket"`` while connected."""
        manager = self._manager
        engine = None if manager is None else manager.engine
        return None if engine is None else engine.transport_name

    # -- connecting --------------------------------------------------------------------------------

    def connect(
        self,
        url: str,
        *,
        namespaces: Iterable[str] | None = None,
        auth: Mapping[str, Any] | None = None,
        transports: Iterable[str] | None = None,
        headers: Mapping[str, str] | None = None,
        wait_timeout: float = 5.0,
    ) -> None:
        """Connect ``namespaces`` (default: ``/`` and every namespace with handlers) over one connection.

        Returns once the server accepted all of them. Raises :class:`~aiosio.ConnectRefusedError`
        (``message`` and ``data`` as the server gave them) when the server refuses one,
        :class:`~aiosio.ClientConnectionError` when no connection is made within ``wait_timeout``.
        """
        if self._manager is not None:
            raise RuntimeError("already connected; call disconnect() first")
        names = list(namespaces) if namespaces is not None else ["/", *self._handlers]
        names = list(dict.fromkeys(n if n.startswith("/") else "/" + n for n in names))
        options = dict(self._manager_options)
        if transports is not None:
            options["transports"] = list(transports)
        if headers is not None:
            options["extra_headers"] = dict(headers)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="aiosio-handlers")
        self._ended.clear()
        try:
            _loop.run(self._connect(url, names, auth, wait_timeout, options))
        except BaseException:
            self._shutdown_executor()
            self._ended.set()
            raise
        _loop.register(self, self._aclose)

    async def _connect(
        self,
        url: str,
        names: list[str],
        auth: Mapping[str, Any] | None,
        wait_timeout: float,
        options: dict[str, Any],
    ) -> None:
        manager = Manager(url, **options)
        manager.on("reconnect_failed", self._on_gave_up)
        sockets = {}
        for name in names:
            socket = manager.socket(name, auth=auth)
            for event, fn in self._handlers.get(name, ()):
                self._attach(socket, event, fn)
            socket.on("disconnect", self._on_disconnect)
            sockets[name] = socket
        self._manager, self._sockets = manager, sockets
        try:
            async with asyncio.timeout(wait_timeout):
                await asyncio.gather(*(s.connect() for s in sockets.values()))
        except BaseException as exc:
            self._manager, self._sockets = None, {}
            await manager.close()
            if isinstance(exc, TimeoutError):
                raise ClientConnectionError(
                    f"no connection to {url} within {wait_timeout} s"
                ) from None
            raise

    def _on_disconnect(self) -> None:
        # The session is over for good once no socket will reconnect.
        if not any(s.active for s in self._sockets.values()):
            self._ended.set()

    def _on_gave_up(self) -> None:
        self._ended.set()

    # -- talking -----------------------------------------------------------------------------------

    def _socket(self, namespace: str) -> Socket:
        socket = self._sockets.get(namespace)
        if socket is None:
            raise DisconnectedError(f"namespace {namespace} is not connected")
        return socket

    def emit(self, event: str, *args: Any, namespace: str = "/") -> None:
        """Send ``event`` with ``args`` to ``namespace`` (buffered while reconnecting)."""
        _loop.call(self._socket(namespace).emit, event, *args)

    def call(self, event: str, *args: Any, namespace: str = "/", timeout: float = 60.0) -> Any:
        """Send ``event`` and return the server's acknowledgement.

        One argument is returned as is, several as a tuple, none as ``None``. Raises
        :class:`~aiosio.AckTimeoutError` (a ``TimeoutError``) after ``timeout`` seconds.
        """
        socket = self._socket(namespace)
        return _loop.run(socket.timeout(timeout).emit_with_ack(event, *args))

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the client is disconnected for good; return whether it is.

        That is after :meth:`disconnect`, a disconnection by the server, or when reconnection
        gives up. With ``timeout``, return ``False`` if that has not happened within it.
        """
        if timeout is not None:
            return self._ended.wait(timeout)
        while not self._ended.wait(0.5):  # short waits: Ctrl+C is seen on every platform
            pass
        return True

    # -- leaving -----------------------------------------------------------------------------------

    def disconnect(self) -> None:
        """Leave every namespace and close the connection (waits until the transport is released).

        Handlers already queued (``disconnect`` handlers included) still run on the worker thread.
        """
        if self._manager is None:
            return
        _loop.unregister(self)
        _loop.run(self._aclose())
        self._shutdown_executor()

    async def _aclose(self) -> None:
        manager, self._manager = self._manager, None
        self._sockets = {}
        self._ended.set()
        if manager is not None:
            await manager.close()

    def _shutdown_executor(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.disconnect()
