"""``SimpleClient``: one namespace, blocking calls, events pulled with :meth:`SimpleClient.receive`."""

from __future__ import annotations

import asyncio
import queue
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from ..client import Manager, Socket
from ..exceptions import ClientConnectionError, DisconnectedError
from . import _loop

__all__ = ["SimpleClient"]


class SimpleClient:
    """A blocking client of one namespace, for scripts, notebooks and synchronous web apps.

    ::

        with SimpleClient() as client:
            client.connect("http://127.0.0.1:3000", auth={"token": "abc"})
            client.emit("chat", "hello")
            print(client.call("chat", "hello", timeout=5))   # the acknowledgement
            event, *args = client.receive(timeout=10)

    The asyncio client (:mod:`aiosio.client`) does the work on a background event loop shared by all
    blocking clients; every method may be called from any thread. ``manager_options`` are
    :class:`aiosio.client.Manager` options (reconnection, timeouts, ``path``...). Events from the
    server wait in a queue until :meth:`receive` takes them; events that ask for an acknowledgement
    are not answered (use :class:`aiosio.sync.Client` for that).
    """

    def __init__(self, **manager_options: Any) -> None:
        self._manager_options = manager_options
        self._socket: Socket | None = None
        self._events: queue.Queue[tuple[Any, ...]] = queue.Queue()

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"<SimpleClient sid={self.sid!r} {state}>"

    # -- state -------------------------------------------------------------------------------------

    @property
    def sid(self) -> str | None:
        """The session id of the namespace, ``None`` while disconnected."""
        socket = self._socket
        return None if socket is None else socket.id

    @property
    def connected(self) -> bool:
        """Whether the namespace is connected now."""
        socket = self._socket
        return socket is not None and socket.connected

    @property
    def transport(self) -> str | None:
        """``"polling"`` or ``"websocket"`` while connected."""
        socket = self._socket
        engine = None if socket is None else socket.io.engine
        return None if engine is None else engine.transport_name

    # -- connecting --------------------------------------------------------------------------------

    def connect(
        self,
        url: str,
        *,
        namespace: str = "/",
        auth: Mapping[str, Any] | None = None,
        transports: Iterable[str] | None = None,
        headers: Mapping[str, str] | None = None,
        wait_timeout: float = 5.0,
    ) -> None:
        """Connect to ``namespace`` of the server at ``url``; return once the server accepted it.

        Raises :class:`~aiosio.ConnectRefusedError` (``message`` and ``data`` as the server gave them)
        when the server refuses, :class:`~aiosio.ClientConnectionError` when no connection is made
        within ``wait_timeout`` seconds. ``transports`` defaults to polling upgraded to WebSocket.
        """
        if self._socket is not None:
            raise RuntimeError("already connected; call disconnect() first")
        options = dict(self._manager_options)
        if transports is not None:
            options["transports"] = list(transports)
        if headers is not None:
            options["extra_headers"] = dict(headers)
        self._socket = _loop.run(self._connect(url, namespace, auth, wait_timeout, options))
        _loop.register(self, self._aclose)

    async def _connect(
        self,
        url: str,
        namespace: str,
        auth: Mapping[str, Any] | None,
        wait_timeout: float,
        options: dict[str, Any],
    ) -> Socket:
        manager = Manager(url, **options)
        socket = manager.socket(namespace, auth=auth)
        socket.on_any(self._on_event)  # before connecting: no event is missed
        try:
            async with asyncio.timeout(wait_timeout):
                await socket.connect()
        except BaseException as exc:
            socket.disconnect()
            await manager.close()
            if isinstance(exc, TimeoutError):
                raise ClientConnectionError(
                    f"no connection to {url} within {wait_timeout} s"
                ) from None
            raise
        return socket

    def _on_event(self, event: str, *args: Any) -> None:
        self._events.put((event, *args))

    # -- talking -----------------------------------------------------------------------------------

    def _require(self) -> Socket:
        socket = self._socket
        if socket is None:
            raise DisconnectedError("not connected")
        return socket

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` with ``args`` (buffered while a reconnection is under way)."""
        socket = self._require()
        _loop.call(socket.emit, event, *args)

    def call(self, event: str, *args: Any, timeout: float = 60.0) -> Any:
        """Send ``event`` and return the server's acknowledgement.

        One argument is returned as is, several as a tuple, none as ``None``. Raises
        :class:`~aiosio.AckTimeoutError` (a ``TimeoutError``) after ``timeout`` seconds.
        """
        socket = self._require()
        return _loop.run(socket.timeout(timeout).emit_with_ack(event, *args))

    def receive(self, timeout: float | None = None) -> tuple[Any, ...]:
        """The next event from the server as ``(event, *args)``.

        Waits at most ``timeout`` seconds (for ever with ``None``), then raises ``TimeoutError``.
        Raises :class:`~aiosio.DisconnectedError` once no event is left and the session is over for
        good (never connected, :meth:`disconnect` called, disconnected by the server, or
        reconnection gave up); while a reconnection is under way it keeps waiting.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            # Wake up now and then so that Ctrl+C and the end of the session are seen.
            step = 0.1 if deadline is None else min(0.1, max(0.0, deadline - time.monotonic()))
            try:
                return self._events.get(timeout=step)
            except queue.Empty:
                socket = self._socket
                if (socket is None or not socket.active) and self._events.empty():
                    raise DisconnectedError("the session is over") from None
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"no event within {timeout} s") from None

    # -- leaving -----------------------------------------------------------------------------------

    def disconnect(self) -> None:
        """Leave the namespace and close the connection (waits until the transport is released)."""
        if self._socket is None:
            return
        _loop.unregister(self)
        _loop.run(self._aclose())

    async def _aclose(self) -> None:
        socket, self._socket = self._socket, None
        if socket is not None:
            await socket.disconnect()
            await socket.io.close()

    def __enter__(self) -> SimpleClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.disconnect()
