"""The Engine.IO session's hard cases as wire transcripts, driven without an event loop.

Each case is a list of (input, what crosses the wire) pairs fed to :class:`tests.protocol.wire.Wire`;
the expected lines are what the reference server does (the same sequences run against it, through
real clients, in tests/engine and tests/interop).
"""

from __future__ import annotations

import pytest

from aiosio.protocol.engineio import Packet, PacketType
from aiosio.protocol.session import ReadyState
from aiosio.protocol.session_machine import EngineSession
from aiosio.protocol.session_table import Act, Event, Role, Upgrade, rows, table

from .wire import Wire, transcript

CASES: dict[str, list[tuple[str, list[str]]]] = {
    "messages both ways": [
        ("GET", []),
        ("SEND hi", ["GET <- 4hi"]),
        ("SEND a", []),
        ("SEND b", []),
        ("GET", ["GET <- 4a\x1e4b"]),
        ("POST 4x\x1e4y", ["deliver x", "deliver y"]),
    ],
    "heartbeat over polling": [
        ("GET", []),
        ("AT 25", ["GET <- 2"]),
        ("POST 3", ["emit heartbeat"]),
        ("AT 49.9", []),
        ("AT 50", []),
        ("GET", ["GET <- 2"]),
        ("AT 69.9", []),
        ("AT 70", ["closed ping timeout"]),
    ],
    "upgrade while a GET is held": [
        ("GET", []),
        ("OFFER", []),
        ("WS 2probe", ["WS <- 3probe", "emit upgrading", "GET <- 6"]),
        # The client's last GET comes before its 5: held, not answered.
        ("GET", []),
        ("SEND late", []),
        ("WS 5", ["GET <- 400", "WS <- 4late", "emit upgrade"]),
        ("SEND on ws", ["WS <- 4on ws"]),
        ("WS 4direct", ["deliver direct"]),
    ],
    "GET held mid-upgrade released by the hold timer": [
        ("OFFER", []),
        ("WS 2probe", ["WS <- 3probe", "emit upgrading"]),
        ("AT 1", []),
        ("GET", []),
        ("AT 1.05", []),
        ("AT 1.1", ["GET <- 6"]),
    ],
    "closing during polling: the buffered packets leave before the close": [
        ("SEND 41", []),
        ("CLOSE", []),
        ("GET", ["GET <- 441"]),
        ("GET", ["GET <- 1", "closed forced close"]),
    ],
    "closing with a GET held and nothing buffered": [
        ("GET", []),
        ("CLOSE", ["closed forced close", "GET <- 1"]),
    ],
    "closing drains, then times out without a GET": [
        ("SEND x", []),
        ("CLOSE", []),
        ("AT 29.9", []),
        ("AT 30", ["closed forced close"]),
    ],
    "a second concurrent GET": [
        ("GET", []),
        ("GET", ["GET <- 400", "closed transport error: overlap from client", "GET <- 1"]),
    ],
    "the held GET dropped": [
        ("GET", []),
        ("ABORT", ["closed transport error: poll connection closed prematurely"]),
    ],
    "a second WebSocket while one is probed": [
        ("OFFER", []),
        ("OFFER", ["WS closed"]),
        ("WS 2probe", ["WS <- 3probe", "emit upgrading"]),
    ],
    "a WebSocket when upgrades are off": [
        ("OFFER refused", ["WS closed"]),
    ],
    "probe failure: a message before the probe": [
        ("GET", []),
        ("OFFER", []),
        ("WS 4too soon", ["WS closed"]),
        ("SEND still polling", ["GET <- 4still polling"]),
        ("OFFER", []),
        ("WS 2probe", ["WS <- 3probe", "emit upgrading"]),
    ],
    "a repeated 2probe is answered again": [
        ("OFFER", []),
        ("WS 2probe", ["WS <- 3probe", "emit upgrading"]),
        ("WS 2probe", ["WS <- 3probe", "emit upgrading"]),
        ("WS 5", ["emit upgrade"]),
    ],
    "probe failure: a message after the probe": [
        ("OFFER", []),
        ("WS 2probe", ["WS <- 3probe", "emit upgrading"]),
        ("WS 4x", ["WS closed"]),
        ("GET", []),
        ("SEND polling", ["GET <- 4polling"]),
    ],
    "probe failure: a ping that is not the probe": [
        ("OFFER", []),
        ("WS 2", ["WS closed"]),
    ],
    "probe failure: 5 before 2probe": [
        ("OFFER", []),
        ("WS 5", ["WS closed"]),
    ],
    "probe failure: the candidate closes": [
        ("OFFER", []),
        ("WS 2probe", ["WS <- 3probe", "emit upgrading"]),
        ("WS closed", ["WS closed"]),
        ("GET", []),
        ("SEND back", ["GET <- 4back"]),
    ],
    "upgrade timeout": [
        ("OFFER", []),
        ("WS 2probe", ["WS <- 3probe", "emit upgrading"]),
        ("AT 9.9", []),
        ("AT 10", ["WS closed"]),
        ("OFFER", []),
    ],
    "close requested mid-upgrade ends when the upgrade completes": [
        ("GET", []),
        ("OFFER", []),
        ("WS 2probe", ["WS <- 3probe", "emit upgrading", "GET <- 6"]),
        ("CLOSE", []),
        ("WS 5", ["emit upgrade", "closed forced close", "WS closed"]),
    ],
    "the client's close packet": [
        ("GET", []),
        ("POST 1", ["GET <- 6", "closed transport close"]),
        ("POST 4after", ["deliver after"]),
    ],
    "undecodable input": [
        ("GET", []),
        ("POST 2", ["closed transport error: invalid heartbeat direction", "GET <- 1"]),
    ],
}


@pytest.mark.parametrize("case", list(CASES))
def test_server_polling_vectors(case: str) -> None:
    transcript(CASES[case])


V3_CASES: dict[str, list[tuple[str, list[str]]]] = {
    "client pings, the server answers with the same data": [
        ("GET", []),
        ("POST 2", ["GET <- 3", "emit heartbeat"]),
        ("POST 2probe", ["emit heartbeat"]),
        ("GET", ["GET <- 3probe"]),
        ("GET", []),
        # no ping for interval + timeout after the last one
        ("AT 44.9", []),
        ("AT 45", ["closed ping timeout", "GET <- 1"]),
    ],
    "a pong from a v3 client is a violation": [
        ("POST 3", ["closed transport error: invalid heartbeat direction"]),
    ],
    "v3 upgrade, then pings over the WebSocket": [
        ("OFFER", []),
        ("WS 2probe", ["WS <- 3probe", "emit upgrading"]),
        ("WS 5", ["emit upgrade"]),
        ("WS 2", ["WS <- 3", "emit heartbeat"]),
    ],
}


@pytest.mark.parametrize("case", list(V3_CASES))
def test_v3_client_pings(case: str) -> None:
    transcript(V3_CASES[case], Wire(pinger=False))


WEBSOCKET_CASES: dict[str, list[tuple[str, list[str]]]] = {
    "ping, pong": [
        ("AT 25", ["WS <- 2"]),
        ("WS 3", ["emit heartbeat"]),
        ("AT 50", ["WS <- 2"]),
        ("AT 70", ["closed ping timeout", "WS closed"]),
    ],
    "no upgrade from a WebSocket session": [
        ("OFFER", ["WS closed"]),
    ],
    "a ping from a v4 client": [
        ("WS 2", ["closed transport error: invalid heartbeat direction", "WS closed"]),
    ],
    "close needs no drain": [
        ("CLOSE", ["closed forced close", "WS closed"]),
    ],
}


@pytest.mark.parametrize("case", list(WEBSOCKET_CASES))
def test_websocket_session_vectors(case: str) -> None:
    transcript(WEBSOCKET_CASES[case], Wire(polling=False))


def test_table_rows_are_unambiguous_and_cover_every_role() -> None:
    for role in Role:
        for pinger in (True, False):
            expanded = table(role, pinger)  # raises on two rows for one key
            assert len(expanded) >= len(rows(role, pinger))
    server = table(Role.SERVER, True)
    # Nothing happens to a closed session.
    assert not any(key[0] is ReadyState.CLOSED for key in server)
    step = server[(ReadyState.OPEN, Upgrade.UPGRADING, Event.PROBE_UPGRADE)]
    assert (step.ready, step.upgrade) == (ReadyState.OPEN, Upgrade.DONE)
    assert Act.SWITCH in step.actions


def test_client_role_probe_sequence() -> None:
    session = EngineSession(Role.CLIENT, "s", 25.0, 20.0, 10.0, 0.0, pinger=False, polling=True)
    assert [a.kind for a in session.probe_offered(1.0)] == [Act.SEND_PROBE]
    kinds = [a.kind for a in session.probe_packet(Packet(PacketType.PONG, "probe"), 1.1)]
    assert kinds == [Act.EMIT_UPGRADING, Act.PAUSE_POLL]
    kinds = [a.kind for a in session.handle(Event.POLL_PAUSED, 1.2)]
    assert kinds == [Act.SEND_UPGRADE, Act.SWITCH, Act.EMIT_UPGRADE]
    assert session.upgrade is Upgrade.DONE
    # The client answers pings and times out without them.
    ping = session.packet(Packet(PacketType.PING), 2.0)
    assert [a.kind for a in ping] == [Act.SEND_PONG, Act.EMIT_HEARTBEAT]
    assert session.next_deadline() == 47.0
    assert [a.kind for a in session.time_passed(47.0)] == [Act.CLOSED]


def test_client_probe_timeout_and_bad_reply() -> None:
    session = EngineSession(Role.CLIENT, "s", 25.0, 20.0, 10.0, 0.0, pinger=False, polling=True)
    session.probe_offered(0.0)
    assert session.next_deadline() == 10.0
    assert [a.kind for a in session.time_passed(10.0)] == [Act.CLOSE_PROBE]
    session.probe_offered(11.0)
    bad = session.probe_packet(Packet(PacketType.MESSAGE, "x"), 11.5)
    assert [a.kind for a in bad] == [Act.CLOSE_PROBE]
    assert session.upgrade is Upgrade.NONE
