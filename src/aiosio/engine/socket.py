"""One Engine.IO session on the server: the public ``EngineSocket``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar, overload

from ..protocol.engineio import Packet, PacketType
from ..protocol.session import CloseReason
from ..protocol.session_machine import Action, EngineSession
from ..protocol.session_table import Act, Event, Role
from .candidate import Candidate
from .http import PreparedMessages, Request, Response
from .transport import Transport

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["EngineSocket", "SessionHost", "prepare"]

logger = logging.getLogger("aiosio.engine")

# Enum members read once: an attribute of an enum class costs a Python-level lookup (Python 3.11).
_SERVER = Role.SERVER
_MESSAGE = PacketType.MESSAGE
_CLOSED = Act.CLOSED
_PING = Packet(PacketType.PING)
_PONG_PROBE = Packet(PacketType.PONG, "probe")
_EVENTS = frozenset(
    {"message", "receive", "send", "close", "upgrade", "upgrading", "drain", "packet", "heartbeat"}
)

Listener = Callable[..., Any]


class SessionHost(Protocol):
    """What a session needs of the server that made it: its options, and to be forgotten."""

    ping_interval: float
    ping_timeout: float
    upgrade_timeout: float
    max_write_buffer_size: int

    def forget(self, socket: EngineSocket) -> None:
        """Drop a closed session."""


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

    The protocol is decided by :attr:`session` (the sans-I/O
    :class:`~aiosio.protocol.session_machine.EngineSession`); this object performs its actions on
    the transports and the clock. It is also the :class:`~aiosio.engine.transport.TransportEvents`
    its active transport reports to (the ``transport_*`` and ``poll_*`` methods).
    """

    __slots__ = (
        "_counting",
        "_listeners",
        "_message_fn",
        "_probe",
        "_receive_fns",
        "_send_fns",
        "_timer",
        "_transport",
        "bytes_received",
        "bytes_sent",
        "fast_message",
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
        server: SessionHost,
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
        #: the sans-I/O state machine that decides (see :mod:`aiosio.protocol.session_table`)
        self.session = EngineSession(
            _SERVER,
            sid,
            server.ping_interval,
            server.ping_timeout,
            server.upgrade_timeout,
            self.loop.time(),
            pinger=protocol != 3,
            polling=transport_name == "polling",
        )
        self._listeners: dict[str, list[Listener]] = {}
        #: the one "message" listener, if there is exactly one
        self._message_fn: Listener | None = None
        #: the same while no "receive" observer is set: the transports' fast path calls it
        self.fast_message: Listener | None = None
        self._counting = False
        #: traffic counters, kept once :meth:`count_traffic` was called (bytes: UTF-8 / binary size)
        self.messages_received = 0
        self.bytes_received = 0
        self.messages_sent = 0
        self.bytes_sent = 0
        self._receive_fns: tuple[Listener, ...] | None = None
        self._send_fns: tuple[Listener, ...] | None = None
        self._transport: Transport
        #: the transport being probed for an upgrade
        self._probe: Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.upgraded = False
        #: True while the session is open and not closing: a plain attribute for the hot paths
        #: (``ready_state == "open"`` without a property call).
        self.is_open = True

    # -- public API -----------------------------------------------------------------------------
    @property
    def transport(self) -> str:
        """The name of the transport carrying the session now: ``"polling"``, ``"websocket"`` or
        ``"webtransport"``."""
        return self._transport.name

    @property
    def upgradable(self) -> bool:
        """True while the session polls and no upgrade is under way or done."""
        return self._transport.name == "polling" and self.session.can_probe

    @property
    def ready_state(self) -> str:
        """``"open"``, ``"closing"`` or ``"closed"``."""
        return self.session.ready.value

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
        return self.is_open and self._transport.writable

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
        self.fast_message = None if observed else self._message_fn

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
            self._check_buffer()

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
            self._check_buffer()

    def close(self) -> None:
        """Close the session after flushing what is buffered; listeners see ``"forced close"``."""
        if not self.is_open:
            return
        self.is_open = False
        self._run(self.session.close_requested(self.loop.time(), self._transport.must_drain()))

    def discard(self) -> None:
        """Close at once without waiting for a poll (used when the server shuts down)."""
        self._run(self.session.handle(Event.DISCARD))

    def __repr__(self) -> str:
        return f"<EngineSocket {self.id} {self.transport} {self.ready_state}>"

    # -- what the server asks -------------------------------------------------------------------
    def attach(self, transport: Transport) -> None:
        """Carry the session over ``transport`` (its first one)."""
        self._transport = transport
        transport.attach(self)
        self._reschedule()

    def offer_upgrade(self, transport: Transport, allowed: bool) -> None:
        """A new transport for this session: probed for an upgrade (closed at once unless
        ``allowed``, or when an upgrade is already under way or done)."""
        transport.attach(Candidate(self.probe_packet, self.probe_failed, self.peer))
        actions = self.session.probe_offered(self.loop.time(), allowed)
        if actions and actions[0].kind is Act.REJECT_PROBE:
            logger.debug("session %s: refusing a second websocket", self.id)
            transport.close()
            return
        self._probe = transport
        self._run(actions)

    def polling_request(self, request: Request, respond: Callable[[Response], None]) -> bool:
        """Hand a polling request to the transport; False when the session no longer polls."""
        return self._transport.on_request(request, respond)

    # -- TransportEvents: what the active transport reports -------------------------------------
    def transport_message(self, transport: Transport, data: str | bytes) -> None:
        """A message (the fast path of a message transport, when it cannot call the listener)."""
        if transport is self._transport and not self.session.closed:
            self._on_message(data)

    def transport_packet(self, transport: Transport, packet: Packet) -> None:
        """A decoded packet."""
        if transport is not self._transport:
            return
        if packet.type is _MESSAGE:
            # A documented bypass of the table: a message changes no state (OPEN and CLOSING
            # deliver, CLOSED drops it).
            if not self.session.closed:
                self._on_message(packet.data if packet.data is not None else "")
            return
        self._run(self.session.packet(packet, self.loop.time()))

    def transport_parse_error(self, transport: Transport, description: str) -> None:
        """Undecodable data."""
        if transport is self._transport:
            self._run(self.session.handle(Event.PARSE_ERROR, description=description))

    def transport_error(self, transport: Transport, description: str) -> None:
        """A protocol violation on the transport."""
        if transport is self._transport:
            self._transport_failed(description)

    def transport_closed(self, transport: Transport, error: str | None) -> None:
        """The transport closed."""
        if transport is not self._transport:
            return
        if error is not None:
            self._transport_failed(error)
        else:
            self._run(self.session.handle(Event.TRANSPORT_CLOSED))

    def transport_drained(self, transport: Transport) -> None:
        """The held GET was answered."""
        self.session.poll_answered()
        if "drain" in self._listeners:
            self._emit("drain")

    def poll_started(self, transport: Transport, buffered: bool) -> None:
        """A GET came."""
        self._run(self.session.poll(self.loop.time(), buffered))

    def poll_overlap(self, transport: Transport) -> None:
        """A second GET came while one is held."""
        self._run(self.session.handle(Event.SECOND_POLL))

    def poll_aborted(self, transport: Transport) -> None:
        """The held GET was dropped by the client."""
        self._run(self.session.poll_aborted(self.loop.time()))

    # -- the candidate transport ----------------------------------------------------------------
    def probe_packet(self, transport: Transport, packet: Packet) -> None:
        """A packet on the transport being probed."""
        if transport is not self._probe:
            transport.close()
            return
        actions = self.session.probe_packet(packet, self.loop.time())
        if not actions:
            transport.close()
        self._run(actions)

    def probe_failed(self, transport: Transport) -> None:
        """The transport being probed failed or closed."""
        if transport is self._probe:
            self._run(self.session.handle(Event.PROBE_CLOSED))
        transport.close()

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

    # -- performing the session's actions -------------------------------------------------------
    def _transport_failed(self, description: str) -> None:
        logger.info("session of %s: transport error: %s", self.peer, description)
        logger.debug("session %s: transport error", self.id)
        self._run(self.session.handle(Event.TRANSPORT_ERROR, description=description))

    def _run(self, actions: list[Action]) -> None:
        for action in actions:
            kind = action.kind
            if kind is _CLOSED:
                assert action.reason is not None
                self._closed(action.reason, action.description)
                return
            if kind is Act.DELIVER:
                data = action.data
                self._on_message(data if data is not None else "")
            elif kind is Act.SEND_PING:
                self._transport.send_packet(_PING)
            elif kind is Act.SEND_PONG:
                self._transport.send_packet(Packet(PacketType.PONG, action.data))
            elif kind is Act.EMIT_HEARTBEAT:
                self._emit("heartbeat")
            elif kind is Act.FLUSH:
                self._transport.flush()
            elif kind is Act.RELEASE_POLL:
                self._transport.release()
            elif kind is Act.HOLD_POLL:
                self._transport.hold()
            elif kind is Act.ANSWER_CLOSE:
                self._transport.answer_close()
            elif kind is Act.SEND_PROBE_REPLY:
                if self._probe is not None:
                    self._probe.send_packet(_PONG_PROBE)
            elif kind is Act.EMIT_UPGRADING:
                self._emit("upgrading", self._probe.name if self._probe is not None else "")
            elif kind is Act.SWITCH:
                self._switch()
            elif kind is Act.EMIT_UPGRADE:
                self._emit("upgrade", self._transport.name)
            elif kind is Act.CLOSE_PROBE:
                probe, self._probe = self._probe, None
                if probe is not None:
                    logger.debug("session %s: upgrade abandoned", self.id)
                    probe.close()
        self._reschedule()

    def _switch(self) -> None:
        probe = self._probe
        assert probe is not None
        old, self._transport, self._probe = self._transport, probe, None
        probe.attach(self)
        self.upgraded = True
        old.hand_over(probe.send_packet)
        logger.debug("session %s: upgraded to %s", self.id, probe.name)

    def _check_buffer(self) -> None:
        waiting = self._transport.buffered_amount
        limit = self.server.max_write_buffer_size
        if waiting > limit:
            client = self.request.client
            logger.warning(
                "closing a %s session of %s: %d bytes wait for a client that does not read "
                "(max_write_buffer_size is %d)",
                self.transport,
                client[0] if client is not None else "?",
                waiting,
                limit,
            )
            self._transport_failed("write buffer overflow")

    # -- timers ---------------------------------------------------------------------------------
    def _reschedule(self) -> None:
        deadline = self.session.next_deadline()
        if deadline is None:
            return
        timer = self._timer
        if timer is not None:
            if timer.when() == deadline:
                return
            timer.cancel()
        self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._run(self.session.time_passed(self.loop.time()))

    # -- closing --------------------------------------------------------------------------------
    def _closed(self, reason: CloseReason, description: str | None) -> None:
        self.is_open = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._transport.close()
        if self._probe is not None:
            self._probe.close()
            self._probe = None
        self.server.forget(self)
        logger.debug("session %s closed: %s", self.id, reason.value)
        self._emit("close", reason.value, description)
        self._listeners.clear()
        self.fast_message = None
        self._message_fn = None
        self._receive_fns = None
        self._send_fns = None

    def _emit(self, event: str, *args: Any) -> None:
        for fn in tuple(self._listeners.get(event, ())):
            try:
                fn(*args)
            except Exception:
                logger.exception("session of %s: error in %r listener", self.peer, event)
