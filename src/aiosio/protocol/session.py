"""The pieces of an Engine.IO session, sans I/O: ready states, close reasons, the open packet, the
and the heartbeat clock (:class:`Session`).

The whole session (these plus the held GET, the drain before a close and the switch of transport) is
:class:`~aiosio.protocol.session_machine.EngineSession`, over the table of
:mod:`~aiosio.protocol.session_table`; it keeps its heartbeat in a :class:`Session`.

The caller owns the clock and the timers: it passes ``now`` (any monotonic float seconds) in, asks for the
next deadline, and calls :meth:`Session.on_deadline` when that time comes. The session answers with what to
do (send a ping, close for a ping timeout) and never sends anything itself.

Heartbeat (protocol v4): the server sends ``2`` (ping) every ``ping_interval``; the client must answer
``3`` (pong) within ``ping_timeout`` or the session closes with "ping timeout".

Protocol v3 turns the heartbeat around (``client_pings=True``): the client sends ``2`` and the server
answers ``3``; a session that hears no ping for ``ping_interval + ping_timeout`` closes with "ping
timeout".

The upgrade (``2probe`` / ``3probe`` / ``5`` on the candidate transport) is the session machine's.
"""

from __future__ import annotations

from enum import Enum, StrEnum

from .. import _json
from .engineio import Packet, PacketType

__all__ = [
    "CloseReason",
    "HeartbeatAction",
    "ReadyState",
    "Session",
    "open_packet",
]


class ReadyState(StrEnum):
    """Life cycle of a session, named as the reference names it."""

    __hash__ = str.__hash__  # hashed as its value (as it compares), at C speed

    OPENING = "opening"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class CloseReason(StrEnum):
    """Why a session closed: the reference's exact strings."""

    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"
    PING_TIMEOUT = "ping timeout"
    PARSE_ERROR = "parse error"
    FORCED_CLOSE = "forced close"


class HeartbeatAction(Enum):
    """What a deadline asks the caller to do."""

    NOTHING = 0
    SEND_PING = 1
    PING_TIMEOUT = 2


def open_packet(
    sid: str, upgrades: list[str], ping_interval: float, ping_timeout: float, max_payload: int
) -> Packet:
    """The handshake packet, with exactly the reference's keys, in its order, times in integer ms."""
    body = {
        "sid": sid,
        "upgrades": upgrades,
        "pingInterval": round(ping_interval * 1000),
        "pingTimeout": round(ping_timeout * 1000),
        "maxPayload": max_payload,
    }
    return Packet(PacketType.OPEN, _json.dumps(body))


class Session:
    """Heartbeat bookkeeping and the ready state of one Engine.IO session."""

    __slots__ = (
        "_ping_deadline",
        "_pong_deadline",
        "client_pings",
        "ping_interval",
        "ping_timeout",
        "sid",
        "state",
    )

    def __init__(
        self,
        sid: str,
        ping_interval: float,
        ping_timeout: float,
        now: float,
        client_pings: bool = False,
    ) -> None:
        if ping_interval <= 0 or ping_timeout <= 0:
            raise ValueError("ping_interval and ping_timeout must be positive")
        self.sid = sid
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.client_pings = client_pings
        self.state = ReadyState.OPEN
        self._ping_deadline = now + ping_interval
        self._pong_deadline: float | None = None
        if client_pings:
            # Protocol v3: the only deadline is the client's next ping.
            self._pong_deadline = now + ping_interval + ping_timeout

    @property
    def awaiting_pong(self) -> bool:
        """True between a ping and its pong."""
        return self._pong_deadline is not None

    def next_deadline(self) -> float | None:
        """When :meth:`on_deadline` must be called next, or ``None`` once closed."""
        if self.state is ReadyState.CLOSED:
            return None
        if self._pong_deadline is not None:
            return self._pong_deadline
        return self._ping_deadline

    def on_deadline(self, now: float) -> HeartbeatAction:
        """Advance the heartbeat to ``now``."""
        if self.state is ReadyState.CLOSED:
            return HeartbeatAction.NOTHING
        if self._pong_deadline is not None:
            if now >= self._pong_deadline:
                return HeartbeatAction.PING_TIMEOUT
            return HeartbeatAction.NOTHING
        if now >= self._ping_deadline:
            self._pong_deadline = now + self.ping_timeout
            return HeartbeatAction.SEND_PING
        return HeartbeatAction.NOTHING

    def on_ping(self, now: float) -> None:
        """A ping from the client (``client_pings`` sessions): the next one is due within
        ``ping_interval + ping_timeout``."""
        self._pong_deadline = now + self.ping_interval + self.ping_timeout

    def on_pong(self, now: float) -> None:
        """A pong arrived: the next ping is due one interval from now."""
        self._pong_deadline = None
        self._ping_deadline = now + self.ping_interval

    def close(self) -> bool:
        """Mark the session closed; returns False when it already was."""
        if self.state is ReadyState.CLOSED:
            return False
        self.state = ReadyState.CLOSED
        return True
