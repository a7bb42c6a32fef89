"""The sans-I/O session: heartbeat deadlines and the upgrade probe, driven by hand with a fake clock."""

from __future__ import annotations

import pytest

from aiosio.protocol.engineio import PacketType
from aiosio.protocol.session import (
    HeartbeatAction,
    ReadyState,
    Session,
    open_packet,
)


def test_open_packet_vector() -> None:
    packet = open_packet("abc", ["websocket"], 25.0, 20.0, 1_000_000)
    assert packet.type is PacketType.OPEN
    assert packet.data == (
        '{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,'
        '"pingTimeout":20000,"maxPayload":1000000}'
    )
    assert open_packet("s", [], 0.3, 0.0004, 1).data == (
        '{"sid":"s","upgrades":[],"pingInterval":300,"pingTimeout":0,"maxPayload":1}'
    )


def test_heartbeat_cycle() -> None:
    session = Session("s", ping_interval=25, ping_timeout=20, now=100)
    assert session.next_deadline() == 125
    assert session.on_deadline(124.9) is HeartbeatAction.NOTHING
    assert session.on_deadline(125) is HeartbeatAction.SEND_PING
    assert session.awaiting_pong
    assert session.next_deadline() == 145
    assert session.on_deadline(130) is HeartbeatAction.NOTHING
    session.on_pong(131)
    assert not session.awaiting_pong
    assert session.next_deadline() == 156
    assert session.on_deadline(156) is HeartbeatAction.SEND_PING
    assert session.on_deadline(176) is HeartbeatAction.PING_TIMEOUT


def test_close_is_idempotent_and_stops_deadlines() -> None:
    session = Session("s", 1, 1, now=0)
    assert session.close()
    assert not session.close()
    assert session.state is ReadyState.CLOSED
    assert session.next_deadline() is None
    assert session.on_deadline(10) is HeartbeatAction.NOTHING


def test_session_rejects_non_positive_times() -> None:
    with pytest.raises(ValueError, match="positive"):
        Session("s", 0, 1, now=0)


def test_client_pings_session_waits_for_the_client() -> None:
    from aiosio.protocol.session import HeartbeatAction, Session

    session = Session("sid", 25.0, 20.0, now=0.0, client_pings=True)
    assert session.next_deadline() == 45.0
    assert session.on_deadline(30.0) is HeartbeatAction.NOTHING
    session.on_ping(30.0)
    assert session.next_deadline() == 75.0
    assert session.on_deadline(74.9) is HeartbeatAction.NOTHING
    assert session.on_deadline(75.0) is HeartbeatAction.PING_TIMEOUT
