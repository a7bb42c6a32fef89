"""One Engine.IO session, sans I/O: inputs in, actions out, the table of
:mod:`~aiosio.protocol.session_table` in between.

The owner (the server's ``EngineSocket``, the client's ``EngineClient``) reports what its transports,
its clock and its application did, and performs the :class:`Action` list it gets back, in order. The
machine keeps four deadlines (heartbeat, upgrade, a GET held mid-upgrade, the close of a draining
session) and hands the earliest out through :meth:`EngineSession.next_deadline`; the owner calls
:meth:`EngineSession.time_passed` when it comes. No clock, no I/O, no asyncio here.
"""

from __future__ import annotations

from typing import NamedTuple

from .engineio import Packet, PacketType
from .session import CloseReason, HeartbeatAction, ReadyState, Session
from .session_table import BY_STATE, Act, Event, Role, Transition, Upgrade

__all__ = ["Action", "EngineSession"]

#: How long a GET that comes mid-upgrade is held before a noop answers it (the reference checks every
#: 100 ms): the client's ``5`` may be on its way over the WebSocket.
UPGRADE_HOLD = 0.1
#: How long a draining session waits for the GET that takes its close packet (the reference's value).
CLOSE_TIMEOUT = 30.0

# Enum members read once: an attribute of an enum class costs a Python-level lookup (Python 3.11).
_OPEN, _CLOSED = ReadyState.OPEN, ReadyState.CLOSED
_NONE, _UPGRADING, _DONE = Upgrade.NONE, Upgrade.UPGRADING, Upgrade.DONE
_ACT_CLOSED = Act.CLOSED
_NOISE = Event.NOISE
_SEND_PING, _PING_TIMEOUT = HeartbeatAction.SEND_PING, HeartbeatAction.PING_TIMEOUT
_INTERNAL = frozenset(
    {Act.HEARD_PING, Act.HEARD_PONG, Act.START_PROBE, Act.END_PROBE, Act.ARM_HOLD, Act.ARM_CLOSE}
)
_ACTIVE_EVENTS = {
    PacketType.MESSAGE: Event.MESSAGE,
    PacketType.PING: Event.PING,
    PacketType.PONG: Event.PONG,
    PacketType.CLOSE: Event.CLOSE_PACKET,
}


class Action(NamedTuple):
    """One thing for the owner to do: ``kind``, with the message or ping data and the close reason
    where they apply."""

    kind: Act
    data: str | bytes | None = None
    reason: CloseReason | None = None
    description: str | None = None


class EngineSession:
    """The state machine of one session; ``pinger`` when this end sends the pings (a v4 server)."""

    __slots__ = (
        "_close_deadline",
        "_events",
        "_hold_deadline",
        "_probe_deadline",
        "_table",
        "heartbeat",
        "poll_held",
        "ready",
        "role",
        "upgrade",
        "upgrade_timeout",
    )

    def __init__(
        self,
        role: Role,
        sid: str,
        ping_interval: float,
        ping_timeout: float,
        upgrade_timeout: float,
        now: float,
        *,
        pinger: bool,
        polling: bool,
    ) -> None:
        self.role = role
        self._table = BY_STATE[(role, pinger)]
        self.heartbeat = Session(sid, ping_interval, ping_timeout, now, client_pings=not pinger)
        self.upgrade_timeout = upgrade_timeout
        #: the ready state and the upgrade state (read them; the machine alone changes them)
        self.ready = _OPEN
        #: a session that starts on a message transport cannot upgrade
        self.upgrade = _NONE if polling else _DONE
        #: what each event does in the current state
        self._events = self._table[(self.ready, self.upgrade)]
        #: whether a GET is held (server, long-polling)
        self.poll_held = False
        self._probe_deadline: float | None = None
        self._hold_deadline: float | None = None
        self._close_deadline: float | None = None

    @property
    def closed(self) -> bool:
        """True once the session is over."""
        return self.ready is _CLOSED

    @property
    def can_probe(self) -> bool:
        """True while a candidate transport would be probed (no upgrade under way or done)."""
        return self.upgrade is _NONE and not self.closed

    @property
    def upgrading(self) -> bool:
        """True between the probe's answer and the ``5``."""
        return self.upgrade is _UPGRADING

    # -- inputs ---------------------------------------------------------------------------------
    def handle(
        self,
        event: Event,
        now: float = 0.0,
        data: str | bytes | None = None,
        description: str | None = None,
    ) -> list[Action]:
        """Apply one classified event (the other inputs end here); ``description`` says what went
        wrong, for a close the table gives no description of its own."""
        transition = self._events.get(event)
        if transition is None:
            return []
        return self._apply(transition, now, data, description)

    def packet(self, packet: Packet, now: float) -> list[Action]:
        """A packet arrived on the active transport."""
        return self.handle(_ACTIVE_EVENTS.get(packet.type, _NOISE), now, packet.data)

    def probe_packet(self, packet: Packet, now: float) -> list[Action]:
        """A packet arrived on the candidate transport."""
        kind, data = packet.type, packet.data
        if kind is PacketType.PING and data == "probe" and self.role is Role.SERVER:
            return self.handle(Event.PROBE_PING, now)
        if kind is PacketType.PONG and data == "probe" and self.role is Role.CLIENT:
            return self.handle(Event.PROBE_PONG, now)
        if kind is PacketType.UPGRADE and self.role is Role.SERVER:
            return self.handle(Event.PROBE_UPGRADE, now)
        return self.handle(Event.PROBE_BAD, now)

    def probe_offered(self, now: float, allowed: bool = True) -> list[Action]:
        """A candidate transport was attached (refused unless ``allowed`` and no upgrade is under
        way or done)."""
        if allowed and self.can_probe:
            return self.handle(Event.PROBE_OFFERED, now)
        # A closed session has no rows: its candidate is rejected all the same.
        return self.handle(Event.PROBE_REFUSED, now) or [Action(Act.REJECT_PROBE)]

    def poll(self, now: float, buffered: bool) -> list[Action]:
        """A GET arrived (``buffered``: packets wait for it)."""
        if self.poll_held:
            return self.handle(Event.SECOND_POLL, now)
        self.poll_held = True
        return self.handle(Event.POLL_WITH_DATA if buffered else Event.POLL, now)

    def poll_answered(self) -> None:
        """The held GET was answered (the transport flushed into it)."""
        self.poll_held = False
        self._hold_deadline = None

    def poll_aborted(self, now: float) -> list[Action]:
        """The client dropped the held GET."""
        self.poll_answered()
        return self.handle(Event.POLL_ABORTED, now)

    def close_requested(self, now: float, must_wait: bool) -> list[Action]:
        """The application closes the session; ``must_wait`` when packets or a GET are awaited."""
        return self.handle(Event.CLOSE_WAIT if must_wait else Event.CLOSE, now)

    def time_passed(self, now: float) -> list[Action]:
        """The deadline came (or any time later): what it means."""
        if self.closed:
            return []
        if self._close_deadline is not None and now >= self._close_deadline:
            return self.handle(Event.CLOSE_TIMEOUT, now)
        actions: list[Action] = []
        if self._hold_deadline is not None and now >= self._hold_deadline:
            self._hold_deadline = None
            actions += self.handle(Event.HOLD_EXPIRED, now)
        if self._probe_deadline is not None and now >= self._probe_deadline:
            actions += self.handle(Event.PROBE_TIMEOUT, now)
        step = self.heartbeat.on_deadline(now)
        if step is _SEND_PING:
            actions += self.handle(Event.PING_DUE, now)
        elif step is _PING_TIMEOUT:
            actions += self.handle(Event.PING_TIMEOUT, now)
        return actions

    def next_deadline(self) -> float | None:
        """When :meth:`time_passed` is due next; ``None`` once closed."""
        if self.closed:
            return None
        deadline = self.heartbeat.next_deadline()
        for other in (self._probe_deadline, self._hold_deadline, self._close_deadline):
            if other is not None and (deadline is None or other < deadline):
                deadline = other
        return deadline

    # -- the table's effects ------------------------------------------------------------------
    def _apply(
        self,
        transition: Transition,
        now: float,
        data: str | bytes | None,
        description: str | None,
    ) -> list[Action]:
        if transition.ready is not self.ready or transition.upgrade is not self.upgrade:
            self.ready = transition.ready
            self.upgrade = transition.upgrade
            self._events = self._table[(self.ready, self.upgrade)]
        out: list[Action] = []
        for act in transition.actions:
            if act in _INTERNAL:
                self._bookkeep(act, now)
            elif act is _ACT_CLOSED:
                self.heartbeat.close()
                self._probe_deadline = self._hold_deadline = self._close_deadline = None
                said = transition.description if transition.description is not None else description
                out.append(Action(act, None, transition.reason, said))
            else:
                out.append(Action(act, data))
        return out

    def _bookkeep(self, act: Act, now: float) -> None:
        if act is Act.HEARD_PONG:
            self.heartbeat.on_pong(now)
        elif act is Act.HEARD_PING:
            self.heartbeat.on_ping(now)
        elif act is Act.START_PROBE:
            self._probe_deadline = now + self.upgrade_timeout
        elif act is Act.END_PROBE:
            self._probe_deadline = None
        elif act is Act.ARM_HOLD:
            self._hold_deadline = now + UPGRADE_HOLD
        elif act is Act.ARM_CLOSE:
            self._close_deadline = now + CLOSE_TIMEOUT
