"""The server-side Socket: one client in one namespace."""

from __future__ import annotations

import asyncio
import inspect
import logging
import secrets
from collections import deque
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from aiosio._handlers import EAGER_TASKS, Ack, AnyListeners, invoke, is_coroutine, start
from aiosio._loop import off_loop
from aiosio.adapters.base import NO_FLAGS, BroadcastFlags, BroadcastOptions, SessionToPersist
from aiosio.exceptions import AckTimeoutError, DisconnectedError
from aiosio.protocol.socketio import (
    RESERVED_EVENTS,
    Packet,
    PacketType,
    ack_value,
    encode_ack_text,
    encode_event_text,
)
from aiosio.server.broadcast import (
    PLAIN_TYPES,
    BroadcastOperator,
    Targeting,
    prepare_args,
    rooms_of,
)
from aiosio.server.handshake import Handshake
from aiosio.server.reasons import RECOVERABLE_REASONS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from aiosio.adapters.base import Adapter, Session
    from aiosio.engine.http import Request
    from aiosio.engine.socket import EngineSocket
    from aiosio.server.connection import Connection
    from aiosio.server.namespace import Namespace

__all__ = ["Socket"]

logger = logging.getLogger("aiosio.server")

_EVENT = PacketType.EVENT
_BINARY_EVENT = PacketType.BINARY_EVENT
_ACK = PacketType.ACK
_BINARY_ACK = PacketType.BINARY_ACK
_DISCONNECT = PacketType.DISCONNECT

#: events a socket emits itself; a client cannot trigger their handlers
_LOCAL_EVENTS = frozenset({"disconnect", "disconnecting", "error"})

#: With ``sequential_handlers``, how many events of one socket may wait for their turn before the
#: connection is closed (a client that sends faster than its handlers finish, without bound).
MAX_QUEUED_EVENTS = 1000


class _AckWaiter:
    """The acknowledgement callback behind :meth:`Socket.emit_with_ack`."""

    __slots__ = ("future", "timer")

    def __init__(self, future: asyncio.Future[Any]) -> None:
        self.future = future
        self.timer: asyncio.TimerHandle | None = None

    def __call__(self, *args: Any) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if not self.future.done():
            self.future.set_result(ack_value(args))

    def fail(self, exc: BaseException) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if not self.future.done():
            self.future.set_exception(exc)


class Socket(AnyListeners, Targeting):
    """One client connected to one namespace.

    Handlers registered with :meth:`on` receive the event's arguments; a handler's return value is the
    acknowledgement when the client asked for one (a tuple sends several arguments, ``None`` none).
    Handlers may be plain functions or coroutine functions.

    Reserved events: ``"disconnecting"`` and ``"disconnect"`` (``reason, description``; handlers may
    accept fewer arguments), ``"error"`` (the exception a :meth:`use` middleware raised).

    Broadcasting from a socket (:meth:`to`, :meth:`in_`, :meth:`except_`, :attr:`local`,
    :attr:`broadcast`) reaches every matching socket but this one.
    """

    __slots__ = (
        "__weakref__",
        "_acks",
        "_adapter",
        "_cleaned",
        "_conn",
        "_flags",
        "_fns",
        "_held",
        "_missed",
        "_on_gone",
        "_queue",
        "_recovery",
        "_restored_rooms",
        "_serving",
        "connected",
        "data",
        "handshake",
        "id",
        "nsp",
        "pid",
        "recovered",
    )

    def __init__(
        self,
        nsp: Namespace,
        connection: Connection,
        auth: dict[str, Any],
        previous: Session | None = None,
        *,
        on_gone: Callable[[Socket], None] | None = None,
    ) -> None:
        self.nsp = nsp
        self._conn = connection
        #: what the namespace wants done when the socket leaves it (or never got in)
        self._on_gone = on_gone
        self._adapter: Adapter = nsp.adapter
        server = nsp.server
        #: events waiting for the previous one's handlers (``sequential_handlers`` servers only)
        self._queue: deque[tuple[list[Any], int | None]] | None = (
            deque() if server.sequential_handlers else None
        )
        #: whether an event of this socket is being handled (``sequential_handlers`` servers only)
        self._serving = False
        #: packets that arrived before the connection handlers started (Python 3.11 only)
        self._held: list[Packet] | None = None
        self._recovery = server.recovery is not None
        #: whether the socket is connected to its namespace
        self.connected = False
        #: whether the connection state was restored after a temporary disconnection
        self.recovered = False
        self._missed: list[list[Any]] | None = None
        self._restored_rooms: list[str] | None = None
        self.data: Any
        if previous is not None:
            self.id: str = previous.sid
            self.pid: str | None = previous.pid
            self.data = previous.data
            self._restored_rooms = previous.rooms
            self._missed = previous.missed_packets
            self.recovered = True
        elif connection.protocol == 3:
            # Old clients compute their socket id from the Engine.IO id, as the reference names it.
            self.id = connection.id if nsp.name == "/" else f"{nsp.name}#{connection.id}"
            self.pid = None
            self.data = {}
        else:
            # a fresh id: the Engine.IO id is a secret that must not be shared with other clients
            self.id = secrets.token_urlsafe(15)
            self.pid = secrets.token_urlsafe(15) if server.recovery is not None else None
            self.data = {}
        self.handshake = Handshake.from_request(connection.conn.request, auth)
        self._acks: dict[int, Callable[..., None]] = {}
        self._fns: list[Callable[[list[Any]], Any]] = []
        AnyListeners.__init__(self)
        self._flags: BroadcastFlags | None = None
        self._cleaned = False

    def __repr__(self) -> str:
        return f"<Socket {self.id} nsp={self.nsp.name!r} connected={self.connected}>"

    # -- properties -------------------------------------------------------------------------------

    @property
    def disconnected(self) -> bool:
        """Whether the socket is not connected."""
        return not self.connected

    @property
    def rooms(self) -> set[str]:
        """The rooms the socket is in (a copy), its own id included."""
        return set(self._adapter.socket_rooms(self.id) or ())

    @property
    def conn(self) -> EngineSocket:
        """The underlying Engine.IO socket."""
        return self._conn.conn

    @property
    def request(self) -> Request:
        """The HTTP request that opened the Engine.IO connection."""
        return self._conn.conn.request

    # -- middlewares ------------------------------------------------------------------------------

    def use(self, fn: Callable[[list[Any]], Any]) -> Socket:
        """Add a middleware run for every incoming event, before the handlers.

        ``fn(packet)`` gets the event as a list ``[event, *args]`` (which it may modify) and may be a
        plain function or a coroutine function. To reject the event, raise: the handlers are skipped and
        the exception is passed to the socket's ``"error"`` handlers.
        """
        self._fns.append(fn)
        return self

    # -- flags for the next emit ------------------------------------------------------------------

    def _take_flags(self) -> BroadcastFlags:
        flags = self._flags
        if flags is None:
            return NO_FLAGS
        self._flags = None
        return flags

    def _set_flags(self, **changes: Any) -> Socket:
        flags = self._flags or NO_FLAGS
        self._flags = BroadcastFlags(
            volatile=changes.get("volatile", flags.volatile),
            compress=changes.get("compress", flags.compress),
            local=flags.local,
            timeout=changes.get("timeout", flags.timeout),
        )
        return self

    @property
    def volatile(self) -> Socket:
        """The next emit may be dropped if the client cannot take it right now."""
        return self._set_flags(volatile=True)

    def compress(self, value: bool) -> Socket:
        """Whether to compress the next emit."""
        return self._set_flags(compress=bool(value))

    def timeout(self, seconds: float) -> Socket:
        """Fail the next :meth:`emit_with_ack` with ``AckTimeoutError`` after ``seconds``."""
        if seconds < 0:
            raise ValueError("timeout must not be negative")
        return self._set_flags(timeout=float(seconds))

    # -- emitting ---------------------------------------------------------------------------------

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` with ``args`` to this client. Never blocks.

        Arguments are JSON-able values; ``bytes``, ``bytearray``, ``memoryview`` and readable binary
        file objects (read at once) travel as binary attachments.
        """
        if event in RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved event name")
        if type(event) is not str:
            raise TypeError("event name must be a str")
        loop = self._conn.loop
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if not on_loop:  # called from another thread: emit on the loop, in this thread's order
            loop.call_soon_threadsafe(self._emit_flagged, self._take_flags(), event, args)
            return
        if self._flags is None and not self._any_out and not self._recovery:
            # The hot path: one JSON encoding, straight to the engine (no Packet, no flags).
            for value in args:
                if type(value) not in PLAIN_TYPES:
                    data = [event, *prepare_args(args)]
                    break
            else:
                data = [event, *args]
            text = encode_event_text(self.nsp.name, data)
            conn = self._conn.conn
            if text is None:
                self._conn.write_packet(Packet(_EVENT, self.nsp.name, data))
            elif conn.is_open:
                conn.send(text)
            return
        flags = self._take_flags()
        packet = Packet(_EVENT, self.nsp.name, [event, *prepare_args(args)])
        if self._recovery:
            # through the adapter, so that the packet gets an offset and is kept for recovery
            self._adapter.broadcast(packet, BroadcastOptions(frozenset((self.id,)), flags=flags))
            return
        if self._any_out:
            self._notify_outgoing(packet.data)
        self._conn.write_packet(packet, flags.volatile, flags.compress is not False)

    def _emit_flagged(self, flags: BroadcastFlags, event: str, args: tuple[Any, ...]) -> None:
        """:meth:`emit` with the flags another thread took; runs on the loop."""
        if flags is not NO_FLAGS:
            self._flags = flags
        self.emit(event, *args)

    def send(self, *args: Any) -> None:
        """Emit a ``"message"`` event."""
        self.emit("message", *args)

    def emit_with_ack(self, event: str, *args: Any) -> asyncio.Future[Any]:
        """Send ``event`` and return a future of the client's acknowledgement.

        The future's value is ``None`` for an acknowledgement without arguments, the argument itself for
        one, a tuple for several. With :meth:`timeout`, it fails with ``AckTimeoutError`` when no answer
        arrives in time; it fails with ``DisconnectedError`` when the socket disconnects first.

        From another thread, use :meth:`Server.run_threadsafe`:
        ``io.run_threadsafe(socket.emit_with_ack, "question").result(timeout=5)``.
        """
        if event in RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved event name")
        loop = self._conn.loop
        if off_loop(loop):
            raise RuntimeError(
                "emit_with_ack() called outside the server's event loop: "
                "use io.run_threadsafe(socket.emit_with_ack, ...) from other threads"
            )
        future: asyncio.Future[Any] = loop.create_future()
        flags = self._take_flags()
        if not self.connected:
            future.set_exception(DisconnectedError("the socket is not connected"))
            return future
        ack_id = self.nsp.next_ack_id()
        waiter = _AckWaiter(future)
        self._acks[ack_id] = waiter
        if flags.timeout is not None:
            waiter.timer = loop.call_later(flags.timeout, self._ack_timed_out, ack_id, waiter)
        packet = Packet(_EVENT, self.nsp.name, [event, *prepare_args(args)], ack_id)
        if self._any_out:
            self._notify_outgoing(packet.data)
        self._conn.write_packet(packet, flags.volatile, flags.compress is not False)
        return future

    def _ack_timed_out(self, ack_id: int, waiter: _AckWaiter) -> None:
        if self._acks.get(ack_id) is waiter:
            del self._acks[ack_id]
        waiter.timer = None
        waiter.fail(AckTimeoutError())

    def _notify_outgoing(self, data: list[Any]) -> None:
        for handler in list(self._any_out or ()):
            invoke(handler, data, None, logger, "outgoing catch-all handler")

    # -- what the adapter uses (the AdapterSocket protocol) -----------------------------------------

    def deliver(
        self,
        packet: Packet,
        encoded: Sequence[str | bytes],
        volatile: bool,
        compress: bool | None,
    ) -> None:
        """Adapter interface: write ``packet``, already ``encoded`` once for every recipient of a
        broadcast, to this client (and tell the outgoing catch-all listeners)."""
        if self._any_out:
            self._notify_outgoing(packet.data)
        self._conn.write_encoded(encoded, volatile, compress is not False)

    def add_ack(self, ack_id: int, callback: Callable[..., None]) -> None:
        """Adapter interface: call ``callback(*args)`` when the client acknowledges ``ack_id``."""
        self._acks[ack_id] = callback

    def remove_ack(self, ack_id: int) -> None:
        """Adapter interface: forget the acknowledgement callback of ``ack_id`` (timed out)."""
        self._acks.pop(ack_id, None)

    # -- broadcasting from this socket ------------------------------------------------------------

    def _operator(self) -> BroadcastOperator:
        return BroadcastOperator(
            self._adapter, frozenset(), frozenset((self.id,)), self._take_flags()
        )

    @property
    def broadcast(self) -> BroadcastOperator:
        """Broadcast to every socket of the namespace but this one."""
        return self._operator()

    # -- rooms ------------------------------------------------------------------------------------

    def join(self, rooms: str | Iterable[str]) -> None:
        """Join one room or several."""
        if off_loop(self._conn.loop):
            self._conn.loop.call_soon_threadsafe(self.join, rooms)
            return
        if self._cleaned:
            return
        self._adapter.add_all(self.id, rooms_of(rooms))

    def leave(self, room: str) -> None:
        """Leave a room."""
        if off_loop(self._conn.loop):
            self._conn.loop.call_soon_threadsafe(self.leave, room)
            return
        self._adapter.del_(self.id, room)

    # -- disconnecting ----------------------------------------------------------------------------

    def disconnect(self, close: bool = False) -> Socket:
        """Disconnect from the namespace; with ``close``, close the whole connection."""
        if off_loop(self._conn.loop):
            self._conn.loop.call_soon_threadsafe(self.disconnect, close)
            return self
        if not self.connected:
            return self
        if close:
            self._conn.disconnect_all()
        else:
            self._conn.write_packet(Packet(_DISCONNECT, self.nsp.name))
            self.handle_close("server namespace disconnect")
        return self

    # -- package-internal: the namespace, the connection and the server call these ------------------

    def handle_accepted(self, notify: Callable[[Socket], None]) -> None:
        """Package-internal (the namespace): the socket passed the middlewares. Answer the CONNECT,
        join its rooms, take the client's packets from its connection, then call ``notify(self)``
        (the namespace's connection handlers).

        On Python 3.11 a coroutine ``connection`` handler is a scheduled Task: the client's packets
        wait until those Tasks have taken their first step (the ready queue is FIFO), so that the
        handlers they register before their first ``await`` are in place, as with eager Tasks.
        """
        self._on_connect()
        self._conn.attach(self)
        if EAGER_TASKS:
            notify(self)
            return
        self._held = []
        notify(self)
        asyncio.get_running_loop().call_soon(self._release_packets)

    def discard(self) -> None:
        """Package-internal (the namespace): forget a socket that never connected (a middleware
        refused it, or its connection closed meanwhile)."""
        self._cleanup()

    def _on_connect(self) -> None:
        self.connected = True
        if self._restored_rooms is not None:
            self.join(self._restored_rooms)
            self._restored_rooms = None
        self.join(self.id)
        if self._missed:
            name = self.nsp.name
            for data in self._missed:
                self._conn.write_packet(Packet(_EVENT, name, data))
        self._missed = None
        if self._conn.protocol == 3:
            # Socket.IO protocol v4 (Engine.IO v3 clients): a CONNECT without payload.
            self._conn.write_packet(Packet(PacketType.CONNECT, self.nsp.name))
            return
        reply: dict[str, Any] = {"sid": self.id}
        if self.pid is not None:
            reply["pid"] = self.pid
        self._conn.write_packet(Packet(PacketType.CONNECT, self.nsp.name, reply))

    def handle_event(self, data: list[Any], ack_id: int | None) -> None:
        """Package-internal (the connection): an event from the client, through the middlewares
        (if any) to the handlers."""
        held = self._held
        if held is not None:
            held.append(Packet(_EVENT, self.nsp.name, data, ack_id))
            return
        queue = self._queue
        if queue is not None:
            if self._serving:
                if len(queue) >= MAX_QUEUED_EVENTS:
                    logger.warning(
                        "socket of %s: more than %d events waiting for their turn "
                        "(sequential_handlers); closing the connection",
                        self.nsp.name,
                        MAX_QUEUED_EVENTS,
                    )
                    self._conn.close()
                    return
                queue.append((data, ack_id))
                return
            self._serving = True
            start(self._serve_in_order(data, ack_id), None, logger, "event handling")
        elif self._fns:
            start(self._run_middlewares(data, ack_id), None, logger, "socket middleware")
        else:
            self._dispatch(data, ack_id)

    def _release_packets(self) -> None:
        """Handle the packets kept since :meth:`handle_accepted`, in arrival order."""
        held, self._held = self._held, None
        if held and self.connected:
            for packet in held:
                self.handle_packet(packet)

    def handle_packet(self, packet: Packet) -> None:
        """Package-internal (the connection): a packet from the client for this namespace."""
        kind = packet.type
        if kind is _EVENT or kind is _BINARY_EVENT:
            self.handle_event(packet.data, packet.id)
            return
        held = self._held
        if held is not None:
            held.append(packet)
        elif kind is _ACK or kind is _BINARY_ACK:
            callback = self._acks.pop(packet.id, None) if packet.id is not None else None
            if callback is None:
                logger.debug("%s: unknown ack id %s", self.id, packet.id)
                return
            try:
                callback(*(packet.data or ()))
            except Exception:
                logger.exception("acknowledgement callback raised")
        elif kind is _DISCONNECT:
            self.handle_close("client namespace disconnect")

    async def _passes_middlewares(self, data: list[Any]) -> bool:
        """Run the per-packet middlewares; ``False`` when one refused the event (raised)."""
        for fn in list(self._fns):
            try:
                result = fn(data)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                self._emit_reserved("error", exc)
                return False
        return True

    async def _run_middlewares(self, data: list[Any], ack_id: int | None) -> None:
        if await self._passes_middlewares(data) and self.connected:
            self._dispatch(data, ack_id)

    async def _serve_in_order(self, data: list[Any], ack_id: int | None) -> None:
        """Handle events one at a time: each waits until the previous one's handlers finished."""
        queue = self._queue
        assert queue is not None
        try:
            while True:
                if self.connected and (not self._fns or await self._passes_middlewares(data)):
                    tasks = self._start_handlers(data, ack_id)
                    if tasks:
                        await asyncio.wait(tasks)
                if not queue or not self.connected:
                    break
                data, ack_id = queue.popleft()
        finally:
            queue.clear()
            self._serving = False

    def _dispatch(self, data: list[Any], ack_id: int | None) -> None:
        """Start the handlers of an event that passed the middlewares."""
        event = data[0]
        handlers = self._handlers.get(event)
        if handlers is not None and len(handlers) == 1 and not self._any:
            # the common case inlined: one handler, no catch-all listener
            if event in _LOCAL_EVENTS:
                return
            try:
                result = handlers[0](*data[1:])
            except Exception:
                logger.exception("%s raised", event)
                return
            if result is not None and is_coroutine(result):
                start(
                    result,
                    None if ack_id is None else partial(self._send_ack, ack_id),
                    logger,
                    event,
                )
            elif ack_id is not None:
                try:
                    self._send_ack(ack_id, result)
                except Exception:
                    logger.exception("acknowledgement of %s raised", event)
            return
        self._start_handlers(data, ack_id)

    def _start_handlers(self, data: list[Any], ack_id: int | None) -> list[asyncio.Task[Any]]:
        """Start the catch-all listeners, then the event's handlers; return the tasks still running.

        The acknowledgement is the first handler's return value; for an event without handlers, a
        catch-all listener's ``ack(...)``.
        """
        ack = None if ack_id is None else Ack(partial(self._send_ack, ack_id))
        event = data[0]
        handlers = None if event in _LOCAL_EVENTS else self._handlers.get(event)
        # a catch-all answers the events that have no handler of their own
        running = self._start_any(data, None if handlers else ack) if self._any else []
        if not handlers:
            return running
        args = data[1:]
        done: Callable[[Any], None] | None = None if ack is None else ack.answer
        for handler in list(handlers):
            task = invoke(handler, args, done, logger, event)
            if task is not None:
                running.append(task)
            done = None
        return running

    def _send_ack(self, ack_id: int, result: Any) -> None:
        if not self.connected:
            return
        if result is None:
            args: list[Any] = []
        elif type(result) is tuple:
            args = prepare_args(result)
        else:
            args = prepare_args((result,))
        text = encode_ack_text(self.nsp.name, args, ack_id)
        if text is None:
            self._conn.write_packet(Packet(_ACK, self.nsp.name, args, ack_id))
        else:
            conn = self._conn.conn
            if conn.is_open:
                conn.send(text)

    def handle_close(self, reason: str, description: Any = None) -> None:
        """Package-internal (the connection and the server): the connection closed, or the server
        shuts down: leave the namespace with ``reason`` (no DISCONNECT packet is sent)."""
        if not self.connected:
            return
        self._emit_reserved("disconnecting", reason, description)
        if self.pid is not None and reason in RECOVERABLE_REASONS:
            self._adapter.persist_session(
                SessionToPersist(self.id, self.pid, sorted(self.rooms), self.data)
            )
        self._cleanup()
        self._conn.detach(self)
        self.connected = False
        if self._acks:
            acks = list(self._acks.values())
            self._acks.clear()
            for callback in acks:
                if isinstance(callback, _AckWaiter):
                    callback.fail(DisconnectedError(f"the socket disconnected ({reason})"))
        self._emit_reserved("disconnect", reason, description)

    def _cleanup(self) -> None:
        self._adapter.del_all(self.id)
        if self._on_gone is not None:
            self._on_gone(self)
        self._cleaned = True
