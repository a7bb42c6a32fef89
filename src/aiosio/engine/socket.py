"""One Engine.IO session on the server: the public ``EngineSocket``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ..protocol.engineio import Packet, PacketType
from ..protocol.session import (
    CloseReason,
    HeartbeatAction,
    ProbeStep,
    ReadyState,
    Session,
    UpgradeProbe,
)
from .http import PreparedMessages, Request
from .polling import PollingTransport
from .websocket import WebSocketTransport

if TYPE_CHECKING:
    from .server import EngineServer

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["EngineSocket", "prepare"]

logger = logging.getLogger("aiosio.engine")

_PING = Packet(PacketType.PING)
_PONG_PROBE = "3probe"
_EVENTS = frozenset(
    {"message", "receive", "send", "close", "upgrade", "upgrading", "drain", "packet", "heartbeat"}
)
#: How long a polling session waits for its next GET to deliver a close packet (the reference's value).
_CLOSE_TIMEOUT = 30.0

Listener = Callable[..., Any]


def prepare(messages: Iterable[str | bytes]) -> PreparedMessages:
    """Encode messages once for :meth:`EngineSocket.send_prepared` to many sessions."""
    return PreparedMessages(tuple("4" + m if type(m) is str else m for m in messages))


class EngineSocket:
    """A client's Engine.IO session, whatever transport carries it.

    Listen with :meth:`on`: ``"message"`` (``str | bytes``), ``"close"`` (reason, description),
    ``"upgrade"`` (transport name), ``"drain"``; and for observers (metrics, the Admin UI) ``"receive"``
    and ``"send"``: each incoming and outgoing message (``str | bytes``), called before the message is
    handled or written, costing nothing while nobody listens. Send with :meth:`send`; end with
    :meth:`close`.
    """

    __slots__ = (
        "_close_deadline",
        "_closing",
        "_counting",
        "_listeners",
        "_message_fn",
        "_on_message_fn",
        "_polling",
        "_probe",
        "_probe_transport",
        "_receive_fns",
        "_send_fns",
        "_timer",
        "_transport",
        "_upgrading",
        "bytes_received",
        "bytes_sent",
        "id",
        "is_open",
        "loop",
        "messages_received",
        "messages_sent",
        "protocol",
        "request",
        "server",
        "session",
        "upgraded",
    )

    def __init__(
        self,
        server: EngineServer,
        sid: str,
        request: Request,
        transport_name: str,
        protocol: int = 4,
    ) -> None:
        self.server = server
        self.id = sid
        self.request = request
        #: the Engine.IO protocol revision the client speaks: 4, or 3 (``allow_eio3``)
        self.protocol = protocol
        self.loop = asyncio.get_running_loop()
        self.session = Session(
            sid,
            server.ping_interval,
            server.ping_timeout,
            self.loop.time(),
            client_pings=protocol == 3,
        )
        self._listeners: dict[str, list[Listener]] = {}
        #: the one "message" listener, if there is exactly one
        self._message_fn: Listener | None = None
        #: the same while no "receive" observer is set: the WebSocket transport's fast path calls it
        self._on_message_fn: Listener | None = None
        self._counting = False
        #: traffic counters, kept once :meth:`count_traffic` was called (bytes: UTF-8 / binary size)
        self.messages_received = 0
        self.bytes_received = 0
        self.messages_sent = 0
        self.bytes_sent = 0
        self._receive_fns: tuple[Listener, ...] | None = None
        self._send_fns: tuple[Listener, ...] | None = None
        self._polling: PollingTransport | None = None
        self._transport: PollingTransport | WebSocketTransport
        self._probe: UpgradeProbe | None = None
        self._probe_transport: WebSocketTransport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._upgrading = False
        self._closing = False
        self._close_deadline: float | None = None
        self.upgraded = False
        #: True while the session is open and not closing: a plain attribute for the hot paths
        #: (``ready_state == "open"`` without a property call).
        self.is_open = True

    # -- public API -----------------------------------------------------------------------------
    @property
    def transport(self) -> str:
        """The name of the transport carrying the session now: ``"polling"`` or ``"websocket"``."""
        return self._transport.name

    @property
    def ready_state(self) -> str:
        """``"open"``, ``"closing"`` or ``"closed"``."""
        if self._closing and self.session.state is ReadyState.OPEN:
            return ReadyState.CLOSING.value
        return self.session.state.value

    @property
    def peer(self) -> str:
        """The client's address, ``"host:port"``: what log lines above DEBUG name a session by (its
        id is a credential)."""
        client = self.request.client
        return f"{client[0]}:{client[1]}" if client is not None else "unknown peer"

    @property
    def buffered_amount(self) -> int:
        """Bytes waiting to be written to this client."""
        return self._transport.buffered_amount

    @property
    def writable(self) -> bool:
        """True when a message sent now would leave at once (volatile messages are dropped otherwise).

        Over polling that means a GET is waiting; over WebSocket, that nothing is queued in user space.
        """
        if self.session.state is not ReadyState.OPEN or self._closing:
            return False
        transport = self._transport
        if isinstance(transport, PollingTransport):
            return transport.writable
        return transport.buffered_amount == 0

    @property
    def _closed(self) -> bool:
        return self.session.state is ReadyState.CLOSED

    @overload
    def on(self, event: str, handler: F) -> F: ...
    @overload
    def on(self, event: str, handler: None = None) -> Callable[[F], F]: ...
    def on(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Add a listener for ``event``; usable as a decorator when ``handler`` is omitted."""
        if event not in _EVENTS:
            raise ValueError(f"unknown engine socket event {event!r}")

        def register(fn: F) -> F:
            self._listeners.setdefault(event, []).append(fn)
            if event in ("message", "send", "receive"):
                self._listeners_changed()
            return fn

        return register(handler) if handler is not None else register

    def off(self, event: str, handler: Listener) -> None:
        """Remove a listener added with :meth:`on`."""
        listeners = self._listeners.get(event)
        if listeners and handler in listeners:
            listeners.remove(handler)
            if event in ("message", "send", "receive"):
                self._listeners_changed()

    def _listeners_changed(self) -> None:
        messages = self._listeners.get("message", ())
        self._message_fn = messages[0] if len(messages) == 1 else None
        self._receive_fns = tuple(self._listeners.get("receive", ())) or None
        self._send_fns = tuple(self._listeners.get("send", ())) or None
        observed = self._receive_fns is not None or self._counting
        self._on_message_fn = None if observed else self._message_fn

    def count_traffic(self) -> None:
        """Keep :attr:`messages_received`, :attr:`bytes_received`, :attr:`messages_sent` and
        :attr:`bytes_sent` from now on (a few additions per message; the metrics use it)."""
        self._counting = True
        self._listeners_changed()

    def send(self, data: str | bytes, compress: bool = True) -> None:
        """Send one message. Never blocks; dropped once the session is closing or closed.

        ``compress=False`` keeps it out of HTTP compression (a polling response is compressed when
        one of its messages allows it).
        """
        if not self.is_open:
            return
        if self._counting:
            self.messages_sent += 1
            self.bytes_sent += (
                len(data.encode()) if isinstance(data, str) and not data.isascii() else len(data)
            )
        observers = self._send_fns
        if observers is not None:
            try:
                for observer in observers:
                    observer(data)
            except Exception:
                logger.exception("session of %s: error in a send observer", self.peer)
        if self._transport.send_message(data, compress) > self.server.max_write_buffer_size:
            self.server._check_buffer(self)

    write = send

    def send_prepared(self, prepared: PreparedMessages, compress: bool = True) -> None:
        """Send messages made by :func:`prepare`; the same object may go to many sessions."""
        if (self._send_fns is not None or self._counting) and self.is_open:
            for message in prepared.messages:
                data = message[1:] if type(message) is str else message
                if self._counting:
                    self.messages_sent += 1
                    self.bytes_sent += (
                        len(data.encode())
                        if isinstance(data, str) and not data.isascii()
                        else len(data)
                    )
                if self._send_fns is not None:
                    self._observe(self._send_fns, data)
        if (
            self.is_open
            and self._transport.send_prepared(prepared, compress)
            > self.server.max_write_buffer_size
        ):
            self.server._check_buffer(self)

    def close(self) -> None:
        """Close the session after flushing what is buffered; listeners see ``"forced close"``."""
        if self._closed or self._closing:
            return
        self._closing = True
        self.is_open = False
        transport = self._transport
        if isinstance(transport, PollingTransport) and (
            transport.buffered_amount or not transport.writable
        ):
            # What is buffered leaves first (with the held GET, if there is one); the close packet
            # follows with the next GET, in a payload of its own, as the reference sends it: the
            # official client handles Socket.IO packets a tick after their payload, so a close in
            # the same payload would overtake them (a DISCONNECT would read as "transport close").
            transport.flush()
            self._close_deadline = self.loop.time() + _CLOSE_TIMEOUT
            self._reschedule()
            return
        self._finish_close()

    def discard(self) -> None:
        """Close at once without waiting for a poll (used when the server shuts down)."""
        self._on_close(CloseReason.FORCED_CLOSE, None)

    def __repr__(self) -> str:
        return f"<EngineSocket {self.id} {self.transport} {self.ready_state}>"

    # -- set-up ---------------------------------------------------------------------------------
    def _start(self, transport: PollingTransport | WebSocketTransport) -> None:
        self._transport = transport
        if isinstance(transport, PollingTransport):
            self._polling = transport
        self._reschedule()

    # -- incoming -------------------------------------------------------------------------------
    def _observe(self, observers: tuple[Listener, ...], data: str | bytes) -> None:
        try:
            for fn in observers:
                fn(data)
        except Exception:
            logger.exception("session of %s: error in an observer", self.peer)

    def _on_message(self, data: str | bytes) -> None:
        if self._counting:
            self.messages_received += 1
            self.bytes_received += (
                len(data.encode()) if isinstance(data, str) and not data.isascii() else len(data)
            )
        observers = self._receive_fns
        if observers is not None:
            try:
                for observer in observers:
                    observer(data)
            except Exception:
                logger.exception("session of %s: error in a receive observer", self.peer)
        fn = self._message_fn
        if fn is not None:
            try:
                fn(data)
            except Exception:
                logger.exception("session of %s: error in message listener", self.peer)
        else:
            self._emit("message", data)

    def _on_packet(self, packet: Packet) -> None:
        if self.session.state is not ReadyState.OPEN:
            logger.debug("session %s: packet on a closed session", self.id)
            return
        kind = packet.type
        if kind is PacketType.MESSAGE:
            self._on_message(packet.data if packet.data is not None else "")
        elif kind is PacketType.PONG:
            if self.protocol == 3:
                self._on_error("invalid heartbeat direction")
                return
            self.session.on_pong(self.loop.time())
            self._reschedule()
            self._emit("heartbeat")
        elif kind is PacketType.CLOSE:
            # The client leaves: a held poll is released with a noop, as the reference does.
            if self._polling is not None:
                self._polling.release_with_noop()
            self._on_close(CloseReason.TRANSPORT_CLOSE, None)
        elif kind is PacketType.PING:
            if self.protocol != 3:
                self._on_error("invalid heartbeat direction")
                return
            # Protocol v3: the client pings, the server answers with the same data.
            self.session.on_ping(self.loop.time())
            self._reschedule()
            self._transport.send_packet(Packet(PacketType.PONG, packet.data))
            self._emit("heartbeat")
        # open, upgrade and noop packets from the client carry no meaning here.

    def _on_parse_error(self, description: str) -> None:
        self._on_close(CloseReason.PARSE_ERROR, description)

    def _on_error(self, description: str) -> None:
        logger.info("session of %s: transport error: %s", self.peer, description)
        logger.debug("session %s: transport error", self.id)
        self._on_close(CloseReason.TRANSPORT_ERROR, description)

    def _on_transport_closed(self, transport: WebSocketTransport, error: str | None) -> None:
        if transport is not self._transport:
            return
        if error is not None:
            self._on_error(error)
        else:
            self._on_close(CloseReason.TRANSPORT_CLOSE, None)

    def _on_drain(self) -> None:
        if "drain" in self._listeners:
            self._emit("drain")

    # -- upgrade --------------------------------------------------------------------------------
    def _begin_upgrade(self, transport: WebSocketTransport) -> None:
        self._probe = UpgradeProbe(self.loop.time(), self.server.upgrade_timeout)
        self._probe_transport = transport
        self._reschedule()

    def _on_probe_packet(self, transport: WebSocketTransport, packet: Packet) -> None:
        probe = self._probe
        if probe is None or transport is not self._probe_transport or self._closed:
            transport.close()
            return
        step = probe.receive(packet)
        if step is ProbeStep.REPLY_PROBE:
            transport.connection.send(_PONG_PROBE)
            self._upgrading = True
            self._emit("upgrading", transport.name)
            if self._polling is not None:
                self._polling.release_with_noop()
        elif step is ProbeStep.COMPLETE:
            self._complete_upgrade(transport)
        else:
            logger.debug("session %s: upgrade abandoned on packet %r", self.id, packet)
            self._on_probe_failed(transport)

    def _complete_upgrade(self, transport: WebSocketTransport) -> None:
        polling = self._polling
        self._probe = None
        self._probe_transport = None
        self._upgrading = False
        self.upgraded = True
        transport.probing = False
        self._transport = transport
        self._polling = None
        if polling is not None:
            polling.refuse_held()
            polling.flush_into(transport.send_packet)
            polling.close()
        logger.debug("session %s: upgraded to websocket", self.id)
        self._reschedule()
        self._emit("upgrade", transport.name)
        if self._closing:
            self._finish_close()

    def _on_probe_failed(self, transport: WebSocketTransport) -> None:
        if transport is self._probe_transport:
            self._probe = None
            self._probe_transport = None
            self._upgrading = False
            self._reschedule()
        transport.close()

    # -- timers ---------------------------------------------------------------------------------
    def _reschedule(self) -> None:
        deadline = self.session.next_deadline()
        for other in (
            self._probe.deadline if self._probe is not None else None,
            self._close_deadline,
        ):
            if other is not None and (deadline is None or other < deadline):
                deadline = other
        if deadline is not None:
            self._schedule(deadline)

    def _schedule(self, when: float) -> None:
        timer = self._timer
        if timer is not None:
            if timer.when() == when:
                return
            timer.cancel()
        self._timer = self.loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._closed:
            return
        now = self.loop.time()
        if self._close_deadline is not None and now >= self._close_deadline:
            self._on_close(CloseReason.FORCED_CLOSE, None)
            return
        probe = self._probe
        if probe is not None and probe.expired(now) and self._probe_transport is not None:
            logger.debug("session %s: client did not complete the upgrade", self.id)
            self._on_probe_failed(self._probe_transport)
        action = self.session.on_deadline(now)
        if action is HeartbeatAction.SEND_PING:
            self._transport.send_packet(_PING)
        elif action is HeartbeatAction.PING_TIMEOUT:
            self._on_close(CloseReason.PING_TIMEOUT, None)
            return
        self._reschedule()

    # -- closing --------------------------------------------------------------------------------
    def _finish_close(self) -> None:
        self._on_close(CloseReason.FORCED_CLOSE, None)

    def _on_close(self, reason: CloseReason, description: str | None) -> None:
        if not self.session.close():
            return
        self.is_open = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._transport.close()
        if self._polling is not None and self._polling is not self._transport:
            self._polling.close()
        if self._probe_transport is not None:
            self._probe_transport.close()
            self._probe_transport = None
            self._probe = None
        self.server._forget(self)
        logger.debug("session %s closed: %s", self.id, reason.value)
        self._emit("close", reason.value, description)
        self._listeners.clear()
        self._on_message_fn = None
        self._message_fn = None
        self._receive_fns = None
        self._send_fns = None

    def _emit(self, event: str, *args: Any) -> None:
        for fn in tuple(self._listeners.get(event, ())):
            try:
                fn(*args)
            except Exception:
                logger.exception("session of %s: error in %r listener", self.peer, event)
