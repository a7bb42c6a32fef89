"""The Engine.IO session as a table: (state, event) -> (new state, actions).

A session's state has two parts: its :class:`~aiosio.protocol.session.ReadyState` (open, closing,
closed) and where its transport upgrade stands (:class:`Upgrade`). Events are what the transports, the
clock and the application report (:class:`Event`); actions are what the session asks its owner to do
(:class:`Act`). The rows below are the whole protocol; :class:`~aiosio.protocol.session_machine.
EngineSession` only classifies its inputs into events, looks them up, and keeps the deadlines.

One table module, two roles: the server answers the upgrade probe and the client sends it; the side
that pings (the server in protocol v4, the client in v3) and the side that answers share the rest.
A pair missing from the table is an event that changes nothing (a packet after the close, say).
"""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import NamedTuple

from .session import CloseReason, ReadyState

__all__ = [
    "BY_STATE",
    "TABLES",
    "Act",
    "Event",
    "Role",
    "Row",
    "Transition",
    "Upgrade",
    "rows",
    "table",
]


class Role(StrEnum):
    """Which end of the session the table drives."""

    __hash__ = str.__hash__  # hashed as its value (as it compares), at C speed

    SERVER = "server"
    CLIENT = "client"


class Upgrade(StrEnum):
    """Where the move from polling to a message transport (WebSocket) stands."""

    __hash__ = str.__hash__

    NONE = "none"  # no candidate transport
    PROBING = (
        "probing"  # a candidate is attached: the server waits for 2probe, the client for 3probe
    )
    UPGRADING = "upgrading"  # probe answered: the server waits for 5, the client pauses polling
    DONE = "done"  # the session runs on the message transport; no more upgrades


class Event(Enum):
    """What happened, as the table knows it (the machine classifies raw inputs into these)."""

    __hash__ = object.__hash__  # members are singletons: hashed by identity, at C speed

    # on the active transport
    MESSAGE = "message packet"
    PING = "ping packet"
    PONG = "pong packet"
    CLOSE_PACKET = "close packet"
    NOISE = "open/upgrade/noop packet"
    PARSE_ERROR = "undecodable packet"
    TRANSPORT_ERROR = "transport error"
    TRANSPORT_CLOSED = "transport closed"
    # long-polling (server)
    POLL = "GET, nothing buffered"
    POLL_WITH_DATA = "GET, packets buffered"
    SECOND_POLL = "GET while one is held"
    POLL_ABORTED = "held GET aborted"
    HOLD_EXPIRED = "GET held for the upgrade timed out"
    # the candidate transport
    PROBE_OFFERED = "candidate transport attached"
    PROBE_REFUSED = "candidate transport not allowed"
    PROBE_PING = "2probe on candidate"
    PROBE_PONG = "3probe on candidate"
    PROBE_UPGRADE = "5 on candidate"
    PROBE_BAD = "anything else on candidate"
    PROBE_CLOSED = "candidate closed"
    POLL_PAUSED = "polling paused (client)"
    PROBE_TIMEOUT = "upgrade timeout"
    # the application and the clock
    CLOSE = "close requested, nothing to wait for"
    CLOSE_WAIT = "close requested, packets or a GET to wait for"
    CLOSE_TIMEOUT = "close timeout"
    DISCARD = "discard (server shutdown)"
    PING_DUE = "ping interval passed"
    PING_TIMEOUT = "ping timeout passed"


class Act(Enum):
    """What the owner of the session must do, in the order given."""

    __hash__ = object.__hash__

    DELIVER = "deliver the message"
    SEND_PING = "send 2 on the active transport"
    SEND_PONG = "send 3 (with the ping's data) on the active transport"
    SEND_PROBE = "send 2probe on the candidate"
    SEND_PROBE_REPLY = "send 3probe on the candidate"
    SEND_UPGRADE = "send 5 on the candidate"
    PAUSE_POLL = "stop polling (client)"
    HOLD_POLL = "hold the GET until the upgrade settles"
    RELEASE_POLL = "answer the held GET with what is buffered, or a noop"
    FLUSH = "answer the held GET with what is buffered"
    ANSWER_CLOSE = "answer the GET with a close packet"
    SWITCH = "make the candidate the active transport; refuse a held GET; move the buffer"
    CLOSE_PROBE = "close the candidate"
    REJECT_PROBE = "close the transport just offered"
    EMIT_HEARTBEAT = "tell listeners: heartbeat"
    EMIT_UPGRADING = "tell listeners: upgrading"
    EMIT_UPGRADE = "tell listeners: upgrade"
    CLOSED = "close every transport; the session is over (with the reason)"
    # Bookkeeping the machine does itself; never handed to the owner.
    HEARD_PING = "(machine) a ping arrived: next one due within interval + timeout"
    HEARD_PONG = "(machine) a pong arrived: next ping one interval on"
    START_PROBE = "(machine) arm the upgrade timeout"
    END_PROBE = "(machine) disarm the upgrade timeout"
    ARM_HOLD = "(machine) arm the GET hold timer"
    ARM_CLOSE = "(machine) arm the close timeout"


class Transition(NamedTuple):
    """The result of one (state, event) pair."""

    ready: ReadyState
    upgrade: Upgrade
    actions: tuple[Act, ...]
    reason: CloseReason | None = None
    description: str | None = None


class Row(NamedTuple):
    """One row of the table: ``None`` in a from-column matches any value (a tuple, any of those); in
    a to-column, ``None`` keeps the value."""

    ready: ReadyState | tuple[ReadyState, ...] | None
    upgrade: Upgrade | tuple[Upgrade, ...] | None
    event: Event
    to_ready: ReadyState | None
    to_upgrade: Upgrade | None
    actions: tuple[Act, ...]
    reason: CloseReason | None = None
    description: str | None = None


R = ReadyState
U = Upgrade
E = Event
A = Act
OPEN, CLOSING, CLOSED = R.OPEN, R.CLOSING, R.CLOSED
#: a live session: open, or closing while its last packets drain (it still reads and answers)
LIVE = (OPEN, CLOSING)
_ERR, _TC, _FC = CloseReason.TRANSPORT_ERROR, CloseReason.TRANSPORT_CLOSE, CloseReason.FORCED_CLOSE

#: Rows every session has, whichever its role. Both OPEN and CLOSING deliver (a closing session still
#: reads what the client sends while its last packets drain).
COMMON: tuple[Row, ...] = (
    Row(LIVE, None, E.MESSAGE, None, None, (A.DELIVER,)),
    Row(LIVE, None, E.CLOSE_PACKET, CLOSED, None, (A.RELEASE_POLL, A.CLOSED), _TC),
    Row(LIVE, None, E.PARSE_ERROR, CLOSED, None, (A.CLOSED,), CloseReason.PARSE_ERROR),
    Row(LIVE, None, E.TRANSPORT_ERROR, CLOSED, None, (A.CLOSED,), _ERR),
    Row(LIVE, None, E.TRANSPORT_CLOSED, CLOSED, None, (A.CLOSED,), _TC),
    Row(LIVE, None, E.PING_TIMEOUT, CLOSED, None, (A.CLOSED,), CloseReason.PING_TIMEOUT),
    Row(OPEN, None, E.CLOSE, CLOSED, None, (A.CLOSED,), _FC),
    Row(OPEN, None, E.CLOSE_WAIT, CLOSING, None, (A.FLUSH, A.ARM_CLOSE)),
    Row(CLOSING, None, E.CLOSE_TIMEOUT, CLOSED, None, (A.CLOSED,), _FC),
    Row(LIVE, None, E.DISCARD, CLOSED, None, (A.CLOSED,), _FC),
)

#: The pinging side (the server in protocol v4).
PINGER: tuple[Row, ...] = (
    Row(LIVE, None, E.PING_DUE, None, None, (A.SEND_PING,)),
    Row(LIVE, None, E.PONG, None, None, (A.HEARD_PONG, A.EMIT_HEARTBEAT)),
    Row(LIVE, None, E.PING, CLOSED, None, (A.CLOSED,), _ERR, "invalid heartbeat direction"),
)

#: The answering side (the client in v4; the server of a v3 client, ``allow_eio3``).
ANSWERER: tuple[Row, ...] = (
    Row(LIVE, None, E.PING, None, None, (A.HEARD_PING, A.SEND_PONG, A.EMIT_HEARTBEAT)),
)

#: A server's answer to a pong when it is the answering side (v3): the client pings, never pongs.
SERVER_ANSWERER: tuple[Row, ...] = (
    Row(LIVE, None, E.PONG, CLOSED, None, (A.CLOSED,), _ERR, "invalid heartbeat direction"),
)


#: an upgrade under way: a candidate is attached
PROBE = (U.PROBING, U.UPGRADING)
_ABANDON = (A.END_PROBE, A.CLOSE_PROBE)
_ABORTED = "poll connection closed prematurely"

#: Long-polling and the server's side of the upgrade.
SERVER: tuple[Row, ...] = (
    # GETs. A GET that comes while the upgrade is under way waits (the 5 may be on its way).
    Row(OPEN, (U.NONE, U.PROBING), E.POLL, None, None, ()),
    Row(OPEN, (U.NONE, U.PROBING), E.POLL_WITH_DATA, None, None, (A.FLUSH,)),
    Row(OPEN, U.UPGRADING, E.POLL, None, None, (A.HOLD_POLL, A.ARM_HOLD)),
    Row(OPEN, U.UPGRADING, E.POLL_WITH_DATA, None, None, (A.HOLD_POLL, A.ARM_HOLD)),
    Row(LIVE, None, E.HOLD_EXPIRED, None, None, (A.RELEASE_POLL,)),
    # Closing: what is buffered leaves first; the close packet with the next (empty) GET.
    Row(CLOSING, None, E.POLL_WITH_DATA, None, None, (A.FLUSH,)),
    Row(CLOSING, None, E.POLL, CLOSED, None, (A.ANSWER_CLOSE, A.CLOSED), _FC),
    Row(LIVE, None, E.SECOND_POLL, CLOSED, None, (A.CLOSED,), _ERR, "overlap from client"),
    Row(LIVE, None, E.POLL_ABORTED, CLOSED, None, (A.CLOSED,), _ERR, _ABORTED),
    # The upgrade: 2probe -> 3probe (the held GET answered with a noop), then 5.
    Row(LIVE, U.NONE, E.PROBE_OFFERED, None, U.PROBING, (A.START_PROBE,)),
    Row(LIVE, None, E.PROBE_REFUSED, None, None, (A.REJECT_PROBE,)),
    Row(
        LIVE,
        U.PROBING,
        E.PROBE_PING,
        None,
        U.UPGRADING,
        (A.SEND_PROBE_REPLY, A.EMIT_UPGRADING, A.RELEASE_POLL),
    ),
    # A repeated 2probe is answered again, as the reference does.
    Row(LIVE, U.UPGRADING, E.PROBE_PING, None, None, (A.SEND_PROBE_REPLY, A.EMIT_UPGRADING)),
    Row(OPEN, U.UPGRADING, E.PROBE_UPGRADE, None, U.DONE, (A.END_PROBE, A.SWITCH, A.EMIT_UPGRADE)),
    Row(
        CLOSING,
        U.UPGRADING,
        E.PROBE_UPGRADE,
        CLOSED,
        U.DONE,
        (A.END_PROBE, A.SWITCH, A.EMIT_UPGRADE, A.CLOSED),
        _FC,
    ),
    # Anything else on the candidate abandons the upgrade; polling goes on.
    Row(LIVE, U.PROBING, E.PROBE_UPGRADE, None, U.NONE, _ABANDON),
    Row(LIVE, PROBE, E.PROBE_BAD, None, U.NONE, _ABANDON),
    Row(LIVE, PROBE, E.PROBE_CLOSED, None, U.NONE, _ABANDON),
    Row(LIVE, PROBE, E.PROBE_TIMEOUT, None, U.NONE, _ABANDON),
)

#: The client's side of the upgrade: 2probe out, 3probe in, pause polling, 5 out.
CLIENT: tuple[Row, ...] = (
    Row(OPEN, U.NONE, E.PROBE_OFFERED, None, U.PROBING, (A.START_PROBE, A.SEND_PROBE)),
    Row(OPEN, U.PROBING, E.PROBE_PONG, None, U.UPGRADING, (A.EMIT_UPGRADING, A.PAUSE_POLL)),
    Row(
        OPEN,
        U.UPGRADING,
        E.POLL_PAUSED,
        None,
        U.DONE,
        (A.END_PROBE, A.SEND_UPGRADE, A.SWITCH, A.EMIT_UPGRADE),
    ),
    Row(OPEN, PROBE, E.PROBE_BAD, None, U.NONE, _ABANDON),
    Row(OPEN, PROBE, E.PROBE_CLOSED, None, U.NONE, _ABANDON),
    Row(OPEN, PROBE, E.PROBE_TIMEOUT, None, U.NONE, _ABANDON),
)


def rows(role: Role, pinger: bool) -> tuple[Row, ...]:
    """The rows of one kind of session: ``pinger`` when this end sends the pings."""
    heartbeat = PINGER if pinger else ANSWERER
    if role is Role.SERVER:
        return COMMON + heartbeat + (() if pinger else SERVER_ANSWERER) + SERVER
    return COMMON + heartbeat + CLIENT


Table = dict[tuple[ReadyState, Upgrade, Event], Transition]


def table(role: Role, pinger: bool) -> Table:
    """The rows expanded into a lookup: every (ready state, upgrade state, event) they name."""
    expanded: Table = {}
    for row in rows(role, pinger):
        readies = (
            tuple(ReadyState)
            if row.ready is None
            else row.ready
            if isinstance(row.ready, tuple)
            else (row.ready,)
        )
        upgrades = (
            tuple(Upgrade)
            if row.upgrade is None
            else row.upgrade
            if isinstance(row.upgrade, tuple)
            else (row.upgrade,)
        )
        for ready in readies:
            for upgrade in upgrades:
                key = (ready, upgrade, row.event)
                if key in expanded:
                    raise ValueError(f"two rows for {key}")
                expanded[key] = Transition(
                    row.to_ready if row.to_ready is not None else ready,
                    row.to_upgrade if row.to_upgrade is not None else upgrade,
                    row.actions,
                    row.reason,
                    row.description,
                )
    return expanded


#: The prebuilt tables every session of one kind shares, by (role, pinger).
TABLES: dict[tuple[Role, bool], Table] = {
    (role, pinger): table(role, pinger) for role in Role for pinger in (True, False)
}

ByState = dict[tuple[ReadyState, Upgrade], dict[Event, Transition]]


def by_state(expanded: Table) -> ByState:
    """The same table split by state: what each event does in one (ready, upgrade) state (the
    machine looks its current state up once per change of state, and each event in that)."""
    split: ByState = {(ready, upgrade): {} for ready in ReadyState for upgrade in Upgrade}
    for (ready, upgrade, event), transition in expanded.items():
        split[(ready, upgrade)][event] = transition
    return split


#: :data:`TABLES`, split by state.
BY_STATE: dict[tuple[Role, bool], ByState] = {key: by_state(t) for key, t in TABLES.items()}
