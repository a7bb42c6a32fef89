"""The client Socket: one namespace on a Manager's connection.

Events a socket fires: ``connect``, ``connect_error`` (an exception: a
:class:`~aiosio.ConnectRefusedError` carrying ``message`` and ``data`` when the
server refused, else the connection error), ``disconnect`` (the reason string), and every event the
server emits.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, Literal, Protocol, overload

from .. import _handlers
from .._handlers import Ack, AnyListeners, F, Handler, spawn
from ..exceptions import (
    AckTimeoutError,
    ClientConnectionError,
    ConnectRefusedError,
    DisconnectedError,
)
from ..protocol.socketio import RESERVED_EVENTS, Packet, PacketType, ack_args, ack_value
from .engine import EngineClient
from .hooks import SocketHooks

__all__ = ["Auth", "Emitter", "Socket", "SocketManager"]

_logger = logging.getLogger("aiosio.client")

AuthData = Mapping[str, Any] | None
Auth = Mapping[str, Any] | Callable[[], AuthData | Awaitable[AuthData]] | None
AckCallback = Callable[[BaseException | None, list[Any]], None]


_V2_MESSAGE = (
    "It seems you are trying to reach a Socket.IO server in v2.x with a v3.x client, "
    "but they are not compatible (more information here: "
    "https://socket.io/docs/v3/migrating-from-2-x-to-3-0/)"
)


def _invoke(
    handler: Handler, args: tuple[Any, ...], done: Callable[[Any], None] | None = None
) -> None:
    """Call ``handler(*args)``; hand its result (awaited if it is a coroutine) to ``done``.

    A coroutine runs in a Task of its own (see :mod:`aiosio._handlers`). Errors are logged; ``done``
    is then not called.
    """
    label = f"handler {getattr(handler, '__qualname__', handler)!r}"
    _handlers.invoke(handler, args, done, _logger, label)


class _Ack:
    __slots__ = ("callback", "timer", "with_error")

    def __init__(
        self, callback: AckCallback, with_error: bool, timer: asyncio.TimerHandle | None
    ) -> None:
        self.callback = callback
        self.with_error = with_error
        self.timer = timer


class _Queued:
    __slots__ = ("ack", "args", "event", "id", "pending", "timeout", "try_count")

    def __init__(
        self,
        seq: int,
        event: str,
        args: tuple[Any, ...],
        ack: AckCallback | None,
        timeout: float | None,
    ) -> None:
        self.id = seq
        self.event = event
        self.args = args
        self.ack = ack
        self.timeout = timeout
        self.try_count = 0
        self.pending = False


class _FlaggedEmits(Protocol):
    """How an :class:`Emitter` emits: its socket's emit functions, which take the flags."""

    def emit(
        self,
        event: str,
        args: tuple[Any, ...],
        *,
        volatile: bool = False,
        timeout: float | None = None,
        compress: bool = True,
    ) -> None: ...

    def emit_with_ack(
        self,
        event: str,
        args: tuple[Any, ...],
        volatile: bool,
        timeout: float | None,
        compress: bool = True,
    ) -> asyncio.Future[Any]: ...


class _SocketEmits:
    """A socket's flag-taking emit functions, handed to its :class:`Emitter` objects."""

    __slots__ = ("emit", "emit_with_ack")

    def __init__(
        self,
        emit: Callable[..., None],
        emit_with_ack: Callable[..., asyncio.Future[Any]],
    ) -> None:
        self.emit = emit
        self.emit_with_ack = emit_with_ack


class Emitter:
    """``socket.volatile`` / ``socket.timeout(seconds)`` / ``socket.compress(False)``: emit with
    those flags (chainable)."""

    __slots__ = ("_compress", "_emits", "_timeout", "_volatile")

    def __init__(
        self, emits: _FlaggedEmits, volatile: bool, timeout: float | None, compress: bool = True
    ) -> None:
        self._emits = emits
        self._volatile = volatile
        self._timeout = timeout
        self._compress = compress

    @property
    def volatile(self) -> Emitter:
        """Drop the event if the transport cannot send it right now."""
        return Emitter(self._emits, True, self._timeout, self._compress)

    def timeout(self, seconds: float) -> Emitter:
        """Fail the acknowledgement with AckTimeoutError after ``seconds``."""
        return Emitter(self._emits, self._volatile, seconds, self._compress)

    def compress(self, value: bool) -> Emitter:
        """Whether the event may be compressed (see :meth:`Socket.compress`)."""
        return Emitter(self._emits, self._volatile, self._timeout, bool(value))

    def emit(self, event: str, *args: Any) -> None:
        """Emit ``event`` with these flags."""
        self._emits.emit(
            event, args, volatile=self._volatile, timeout=self._timeout, compress=self._compress
        )

    async def emit_with_ack(self, event: str, *args: Any) -> Any:
        """Emit ``event`` and wait for the server's acknowledgement (see Socket.emit_with_ack)."""
        return await self._emits.emit_with_ack(
            event, args, self._volatile, self._timeout, self._compress
        )


class SocketManager(Protocol):
    """A :class:`~aiosio.client.Manager` as its sockets see it (``Socket.io``): the connection's
    state and listeners, and the package-internal methods a socket drives it with."""

    @property
    def uri(self) -> str:
        """The server's URL."""

    @property
    def ready_state(self) -> Literal["closed", "opening", "open"]:
        """``"closed"``, ``"opening"`` or ``"open"``."""

    @property
    def engine(self) -> EngineClient | None:
        """The current Engine.IO session, if any."""

    @property
    def reconnecting(self) -> bool:
        """Whether a reconnection is scheduled or in progress."""

    @overload
    def on(self, event: str, handler: F) -> F: ...
    @overload
    def on(self, event: str, handler: None = None) -> Callable[[F], F]: ...
    def on(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Register ``handler`` for a Manager event; without ``handler``, return a decorator."""

    @overload
    def once(self, event: str, handler: F) -> F: ...
    @overload
    def once(self, event: str, handler: None = None) -> Callable[[F], F]: ...
    def once(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Like :meth:`on`, but the handler is removed after its first call."""

    def off(self, event: str | None = None, handler: Handler | None = None) -> None:
        """Remove ``handler`` from ``event``, every handler of ``event``, or every handler."""

    def open(self) -> None:
        """Start connecting, unless already open or opening."""

    def close(self) -> asyncio.Future[None]:
        """Disconnect every socket, close the connection and stop reconnecting."""

    def wait_closed_future(self) -> asyncio.Future[None]:
        """A future that completes once every closing transport is released."""

    def activate(self, namespace: str, hooks: SocketHooks) -> None:
        """The socket of ``namespace`` wants to connect (package-internal)."""

    def deactivate(self, namespace: str) -> None:
        """The socket of ``namespace`` left (package-internal)."""

    def socket(
        self,
        namespace: str = "/",
        *,
        auth: Auth = None,
        retries: int = 0,
        ack_timeout: float | None = None,
        max_buffered: int | None = None,
    ) -> Socket:
        """The socket of ``namespace`` on this connection (made on first use)."""

    def write_packet(self, packet: Packet, compress: bool = True) -> None:
        """Write ``packet`` on the current Engine.IO session (package-internal)."""


class Socket(AnyListeners):
    """One namespace on a :class:`~aiosio.client.Manager` connection.

    Create it with :meth:`Manager.socket` or :func:`aiosio.client.connect`. ``auth`` is a dict or a
    plain / async callable returning one, evaluated on every (re)connection. With ``retries`` every
    emit is delivered at least once: events wait in a queue, one in flight at a time, and are sent
    again until acknowledged (``ack_timeout`` bounds each wait). Events emitted while disconnected
    wait in a buffer and leave in order on connection; ``max_buffered`` bounds that buffer (an emit
    beyond it raises :class:`~aiosio.exceptions.DisconnectedError`), unbounded by default as in the
    reference client.

    Handlers registered with :meth:`on` receive the event's arguments; when the server asked for an
    acknowledgement the return value of the first handler is the answer (``None``: no argument, a
    tuple: several). Handlers of ``disconnect`` get ``(reason, description)`` and of
    ``connect_error`` the error, but may accept fewer arguments. Event names must be strings.
    """

    __slots__ = (
        "_ack_timeout",
        "_acks",
        "_active",
        "_emits",
        "_ids",
        "_last_offset",
        "_max_buffered",
        "_pid",
        "_queue",
        "_queue_seq",
        "_receive_buffer",
        "_retries",
        "_send_buffer",
        "_waiters",
        "auth",
        "connected",
        "id",
        "io",
        "nsp",
        "recovered",
    )

    _logger = _logger
    _str_names = True

    def __init__(
        self,
        io: SocketManager,
        nsp: str = "/",
        *,
        auth: Auth = None,
        retries: int = 0,
        ack_timeout: float | None = None,
        max_buffered: int | None = None,
    ) -> None:
        if max_buffered is not None and max_buffered < 0:
            raise ValueError("max_buffered must be >= 0")
        if auth is not None and not callable(auth) and not isinstance(auth, Mapping):
            raise TypeError("auth must be a mapping or a callable returning one")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        #: the Manager this socket belongs to (seen through :class:`SocketManager`)
        self.io = io
        self.nsp = nsp
        self.auth = auth
        #: The session id given by the server, ``None`` while disconnected.
        self.id: str | None = None
        self.connected = False
        #: Whether the last connection restored the previous session (connection state recovery).
        self.recovered = False
        self._retries = retries
        self._ack_timeout = ack_timeout
        self._max_buffered = max_buffered
        self._active = False
        AnyListeners.__init__(self)
        self._acks: dict[int, _Ack] = {}
        self._ids = 0
        self._receive_buffer: list[tuple[list[Any], int | None]] = []
        self._send_buffer: list[Packet] = []
        self._queue: deque[_Queued] = deque()
        self._queue_seq = 0
        self._pid: str | None = None
        self._last_offset: str | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._emits = _SocketEmits(self._emit, self._emit_with_ack)

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"<Socket nsp={self.nsp!r} id={self.id!r} {state}>"

    @property
    def disconnected(self) -> bool:
        """``not connected``."""
        return not self.connected

    @property
    def active(self) -> bool:
        """Whether the socket reconnects with its Manager (false after a refusal or disconnect)."""
        return self._active

    # -- listeners -----------------------------------------------------------------------------

    # -- connecting ----------------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect the namespace and wait until the server accepts it.

        Connection failures are retried by the Manager as configured. Raises
        :class:`~aiosio.ConnectRefusedError` when the server refuses the namespace,
        and :class:`~aiosio.ClientConnectionError` when the Manager gives up (reconnection
        disabled or attempts exhausted) or :meth:`disconnect` is called meanwhile. Cancelling the
        wait disconnects.
        """
        if self.connected:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._start()
        try:
            await waiter
        except asyncio.CancelledError:
            if not self.connected:
                self.disconnect()
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _start(self) -> None:
        if self.connected:
            return
        self._active = True
        self.io.activate(
            self.nsp,
            SocketHooks(
                on_open=self._on_open,
                on_packet=self._on_packet,
                on_error=self._on_error,
                on_give_up=self._on_give_up,
                on_close=self._on_close,
            ),
        )
        if not self.io.reconnecting:
            self.io.open()
        if self.io.ready_state == "open":
            self._on_open()

    def disconnect(self) -> asyncio.Future[None]:
        """Leave the namespace; no reconnection follows. Closes the connection if it was the last.

        Returns a future that completes once the transport is released (awaiting it is optional).
        """
        was_connected = self.connected
        if was_connected:
            self._packet(Packet(PacketType.DISCONNECT, self.nsp))
        self._destroy()
        if was_connected:
            self._on_close("io client disconnect", None)
        self._fail_waiters(ClientConnectionError("io client disconnect"))
        return self.io.wait_closed_future()

    close = disconnect

    def _destroy(self) -> None:
        if self._active:
            self._active = False
            self.io.deactivate(self.nsp)

    def _fail_waiters(self, error: BaseException) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(error)

    # -- emitting ------------------------------------------------------------------------------

    @property
    def volatile(self) -> Emitter:
        """``socket.volatile.emit(...)``: dropped when the transport cannot send it right now."""
        return Emitter(self._emits, True, None)

    def timeout(self, seconds: float) -> Emitter:
        """``await socket.timeout(s).emit_with_ack(...)`` fails with AckTimeoutError after ``s``."""
        return Emitter(self._emits, False, seconds)

    def compress(self, value: bool) -> Emitter:
        """``socket.compress(False).emit(...)``: the reference's compress flag (True by default).

        It travels with the packet to the Engine.IO client, where it decides whether a WebSocket
        message may be compressed once permessage-deflate is negotiated. Over long-polling the
        request bodies are never compressed, as with the reference client.
        """
        return Emitter(self._emits, False, None, bool(value))

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` with ``args``; while disconnected it waits in a buffer, kept in order."""
        self._emit(event, args)

    def send(self, *args: Any) -> None:
        """Emit a ``message`` event."""
        self._emit("message", args)

    async def emit_with_ack(self, event: str, *args: Any) -> Any:
        """Emit ``event`` and return the server's acknowledgement.

        One acknowledgement argument is returned as is, several as a tuple, none as ``None``. Raises
        AckTimeoutError after the ``ack_timeout`` option (or ``socket.timeout(s)``), and
        DisconnectedError if the connection is lost before the event was sent to the server.
        """
        return await self._emit_with_ack(event, args, False, None)

    def _emit_with_ack(
        self,
        event: str,
        args: tuple[Any, ...],
        volatile: bool,
        timeout: float | None,
        compress: bool = True,
    ) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def answer(error: BaseException | None, data: list[Any]) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(ack_value(data))

        self._emit(
            event,
            args,
            ack=answer,
            with_error=True,
            volatile=volatile,
            timeout=timeout,
            compress=compress,
        )
        return future

    def _emit(
        self,
        event: str,
        args: tuple[Any, ...],
        *,
        ack: AckCallback | None = None,
        with_error: bool = False,
        volatile: bool = False,
        timeout: float | None = None,
        from_queue: bool = False,
        compress: bool = True,
    ) -> None:
        if not isinstance(event, str):
            raise TypeError("event name must be a string")
        if event in RESERVED_EVENTS:
            raise ValueError(f'"{event}" is a reserved event name')
        if self._retries and not from_queue and not volatile:
            if self._max_buffered is not None and len(self._queue) >= self._max_buffered:
                raise DisconnectedError(f"{self._max_buffered} events already wait for delivery")
            self._add_to_queue(event, args, ack, timeout)
            return
        packet = Packet(PacketType.EVENT, self.nsp, [event, *args])
        engine = self.io.engine
        connected = self.connected and not (engine is not None and engine.ping_expired())
        if (
            not connected
            and not volatile
            and self._max_buffered is not None
            and len(self._send_buffer) >= self._max_buffered
        ):
            raise DisconnectedError(
                f"not connected and {self._max_buffered} events are already buffered"
            )
        if ack is not None:
            ack_id = self._ids
            self._ids += 1
            self._register_ack(ack_id, ack, with_error, timeout)
            packet.id = ack_id
        if volatile and (engine is None or not engine.writable):
            return
        if connected:
            self._notify_outgoing(packet)
            self.io.write_packet(packet, compress)
        else:
            self._send_buffer.append(packet)

    def _register_ack(
        self, ack_id: int, callback: AckCallback, with_error: bool, timeout: float | None
    ) -> None:
        if timeout is None:
            timeout = self._ack_timeout
        if timeout is None:
            self._acks[ack_id] = _Ack(callback, with_error, None)
            return
        loop = asyncio.get_running_loop()
        timer = loop.call_later(timeout, self._ack_timed_out, ack_id)
        self._acks[ack_id] = _Ack(callback, True, timer)

    def _ack_timed_out(self, ack_id: int) -> None:
        ack = self._acks.pop(ack_id, None)
        if ack is None:
            return
        self._send_buffer = [p for p in self._send_buffer if p.id != ack_id]
        ack.callback(AckTimeoutError(), [])

    def _add_to_queue(
        self, event: str, args: tuple[Any, ...], ack: AckCallback | None, timeout: float | None
    ) -> None:
        queued = _Queued(self._queue_seq, event, args, ack, timeout)
        self._queue_seq += 1
        self._queue.append(queued)
        self._drain_queue()

    def _on_queued_ack(self, queued: _Queued, error: BaseException | None, data: list[Any]) -> None:
        if not self._queue or self._queue[0] is not queued:
            return  # already acknowledged
        if error is not None:
            if queued.try_count > self._retries:
                self._queue.popleft()
                if queued.ack is not None:
                    queued.ack(error, [])
        else:
            self._queue.popleft()
            if queued.ack is not None:
                queued.ack(None, data)
        queued.pending = False
        self._drain_queue()

    def _drain_queue(self, force: bool = False) -> None:
        if not self.connected or not self._queue:
            return
        queued = self._queue[0]
        if queued.pending and not force:
            return
        queued.pending = True
        queued.try_count += 1
        self._emit(
            queued.event,
            queued.args,
            ack=partial(self._on_queued_ack, queued),
            timeout=queued.timeout,
            from_queue=True,
        )

    def _notify_outgoing(self, packet: Packet) -> None:
        if self._any_out:
            for listener in tuple(self._any_out):
                _invoke(listener, tuple(packet.data))

    def _packet(self, packet: Packet) -> None:
        self.io.write_packet(packet)

    # -- from the Manager ----------------------------------------------------------------------

    def _on_open(self) -> None:
        auth = self.auth
        if not callable(auth):
            self._send_connect_packet(auth)
            return
        try:
            value = auth()
        except Exception as exc:
            self._auth_failed(exc)
            return
        if isinstance(value, Awaitable):
            engine = self.io.engine
            spawn(self._send_connect_later(value, engine), _logger)
        else:
            self._send_connect_packet(value)

    async def _send_connect_later(self, value: Awaitable[Any], engine: Any) -> None:
        try:
            data = await value
        except Exception as exc:
            self._auth_failed(exc)
            return
        if self._active and self.io.engine is engine and self.io.ready_state == "open":
            self._send_connect_packet(data)

    def _auth_failed(self, exc: BaseException) -> None:
        _logger.error("auth callable of %s raised", self.nsp, exc_info=exc)
        self._emit_reserved("connect_error", exc)
        self._fail_waiters(exc)

    def _send_connect_packet(self, data: Any) -> None:
        if data is not None and not isinstance(data, Mapping):
            self._auth_failed(TypeError("auth must be a mapping"))
            return
        payload: dict[str, Any] | None
        if self._pid is not None:
            payload = {"pid": self._pid}
            if self._last_offset is not None:
                payload["offset"] = self._last_offset
            if data:
                payload.update(data)
        else:
            payload = dict(data) if data is not None else None
        self._packet(Packet(PacketType.CONNECT, self.nsp, payload))

    def _on_error(self, error: BaseException) -> None:
        if not self.connected:
            self._emit_reserved("connect_error", error)

    def _on_give_up(self, error: BaseException) -> None:
        self._fail_waiters(error)

    def _on_close(self, reason: str, description: Any) -> None:
        self.connected = False
        self.id = None
        self._emit_reserved("disconnect", reason, description)
        self._clear_acks()

    def _clear_acks(self) -> None:
        if not self._acks:
            return
        buffered = {p.id for p in self._send_buffer if p.id is not None}
        for ack_id in list(self._acks):
            if ack_id in buffered:
                continue
            ack = self._acks.pop(ack_id)
            if ack.timer is not None:
                ack.timer.cancel()
            if ack.with_error:
                ack.callback(DisconnectedError("socket has been disconnected"), [])

    def _on_packet(self, packet: Packet) -> None:
        kind = packet.type
        if kind is PacketType.EVENT or kind is PacketType.BINARY_EVENT:
            args = packet.data
            if not isinstance(args, list) or not args:
                return
            if self.connected:
                self._emit_event(args, packet.id)
            else:
                self._receive_buffer.append((args, packet.id))
        elif kind is PacketType.ACK or kind is PacketType.BINARY_ACK:
            self._on_ack(packet)
        elif kind is PacketType.CONNECT:
            data = packet.data
            if isinstance(data, dict) and isinstance(data.get("sid"), str):
                pid = data.get("pid")
                self._on_connect(data["sid"], pid if isinstance(pid, str) else None)
            else:
                self._emit_reserved("connect_error", ClientConnectionError(_V2_MESSAGE))
        elif kind is PacketType.DISCONNECT:
            self._destroy()
            self._on_close("io server disconnect", None)
        elif kind is PacketType.CONNECT_ERROR:
            self._destroy()
            data = packet.data
            if isinstance(data, dict):
                message = str(data.get("message"))
                error = ConnectRefusedError(message, data.get("data"))
            else:
                error = ConnectRefusedError(str(data))
            self._emit_reserved("connect_error", error)
            self._fail_waiters(error)

    def _emit_event(self, args: list[Any], ack_id: int | None) -> None:
        event = args[0]
        params = tuple(args[1:])
        ack = None if ack_id is None else Ack(partial(self._send_ack, ack_id))
        handlers = self._handlers.get(event) if isinstance(event, str) else None
        if self._any:  # a catch-all answers the events that have no handler of their own
            self._start_any(args, None if handlers else ack)
        if handlers:
            handlers = list(handlers)
            if ack is None:
                for handler in handlers:
                    _invoke(handler, params)
            else:
                # The first handler's return value answers; the others' are ignored.
                _invoke(handlers[0], params, ack.answer)
                for handler in handlers[1:]:
                    _invoke(handler, params)
        if self._pid is not None and ack_id is None and isinstance(args[-1], str):
            self._last_offset = args[-1]

    def _send_ack(self, ack_id: int, result: Any) -> None:
        self._packet(Packet(PacketType.ACK, self.nsp, ack_args(result), ack_id))

    def _on_ack(self, packet: Packet) -> None:
        if packet.id is None:
            return
        ack = self._acks.pop(packet.id, None)
        if ack is None:
            return
        if ack.timer is not None:
            ack.timer.cancel()
        data = packet.data
        ack.callback(None, data if isinstance(data, list) else [])

    def _on_connect(self, sid: str, pid: str | None) -> None:
        self.id = sid
        self.recovered = pid is not None and self._pid == pid
        self._pid = pid
        self.connected = True
        received, self._receive_buffer = self._receive_buffer, []
        for args, ack_id in received:
            self._emit_event(args, ack_id)
        buffered, self._send_buffer = self._send_buffer, []
        for packet in buffered:
            self._notify_outgoing(packet)
            self._packet(packet)
        self._emit_reserved("connect")
        self._drain_queue(True)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
