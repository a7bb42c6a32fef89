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
_EVENTS = frozenset({"message", "close", "upgrade", "upgrading", "drain", "packet", "heartbeat"})
#: How long a polling session waits for its next GET to deliver a close packet (the reference's value).
_CLOSE_TIMEOUT = 30.0

Listener = Callable[..., Any]


def prepare(messages: Iterable[str | bytes]) -> PreparedMessages:
    """Encode messages once for :meth:`EngineSocket.send_prepared` to many sessions."""
    return PreparedMessages(tuple("4" + m if type(m) is str else m for m in messages))


class EngineSocket:
    """A client's Engine.IO session, whatever transport carries it.

    Listen with :meth:`on`: ``"message"`` (``str | bytes``), ``"close"`` (reason, description),
    ``"upgrade"`` (transport name), ``"drain"``. Send with :meth:`send`; end with :meth:`close`.
    """

    __slots__ = (
        "_close_deadline",
        "_closing",
        "_listeners",
        "_on_message_fn",
        "_polling",
        "_probe",
        "_probe_transport",
        "_timer",
        "_transport",
        "_upgrading",
        "id",
        "is_open",
        "loop",
        "request",
        "server",
        "session",
        "upgraded",
    )

    def __init__(
        self, server: EngineServer, sid: str, request: Request, transport_name: str
    ) -> None:
        self.server = server
        self.id = sid
        self.request = request
        self.loop = asyncio.get_running_loop()
        self.session = Session(sid, server.ping_interval, server.ping_timeout, self.loop.time())
        self._listeners: dict[str, list[Listener]] = {}
        self._on_message_fn: Listener | None = None
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
            if event == "message":
                listeners = self._listeners["message"]
                self._on_message_fn = listeners[0] if len(listeners) == 1 else None
            return fn

        return register(handler) if handler is not None else register

    def off(self, event: str, handler: Listener) -> None:
        """Remove a listener added with :meth:`on`."""
        listeners = self._listeners.get(event)
        if listeners and handler in listeners:
            listeners.remove(handler)
            if event == "message":
                self._on_message_fn = listeners[0] if len(listeners) == 1 else None

    def send(self, data: str | bytes) -> None:
        """Send one message. Never blocks; dropped once the session is closing or closed."""
        if self.is_open and self._transport.send_message(data) > self.server.max_write_buffer_size:
            self.server._check_buffer(self)

    write = send

    def send_prepared(self, prepared: PreparedMessages) -> None:
        """Send messages made by :func:`prepare`; the same object may go to many sessions."""
        if (
            self.is_open
            and self._transport.send_prepared(prepared) > self.server.max_write_buffer_size
        ):
            self.server._check_buffer(self)

    def close(self) -> None:
        """Close the session after flushing what is buffered; listeners see ``"forced close"``."""
        if self._closed or self._closing:
            return
        self._closing = True
        self.is_open = False
        transport = self._transport
        if isinstance(transport, PollingTransport) and not transport.writable:
            # The buffer and the close packet leave with the client's next GET.
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
    def _on_message(self, data: str | bytes) -> None:
        fn = self._on_message_fn
        if fn is not None:
            try:
                fn(data)
            except Exception:
                logger.exception("session %s: error in message listener", self.id)
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
            self.session.on_pong(self.loop.time())
            self._reschedule()
            self._emit("heartbeat")
        elif kind is PacketType.CLOSE:
            # The client leaves: a held poll is released with a noop, as the reference does.
            if self._polling is not None:
                self._polling.release_with_noop()
            self._on_close(CloseReason.TRANSPORT_CLOSE, None)
        elif kind is PacketType.PING:
            self._on_error("invalid heartbeat direction")
        # open, upgrade and noop packets from the client carry no meaning here.

    def _on_parse_error(self, description: str) -> None:
        self._on_close(CloseReason.PARSE_ERROR, description)

    def _on_error(self, description: str) -> None:
        logger.info("session %s: transport error: %s", self.id, description)
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

    def _emit(self, event: str, *args: Any) -> None:
        for fn in tuple(self._listeners.get(event, ())):
            try:
                fn(*args)
            except Exception:
                logger.exception("session %s: error in %r listener", self.id, event)
