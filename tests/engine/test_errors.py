"""What a raw HTTP / WebSocket peer sees on every error path, checked against the reference's answers.

Every expectation here holds for the official engine.io server too (run with AIOSIO_REFERENCE=1).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import urllib.parse
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from aiosio.engine.server import EngineServer
from tests.conftest import EngineStarter
from tests.support.engine import EngineUnderTest
from tests.support.hosts import start_host
from tests.support.requires import skip_reference

RS = "\x1e"
#: Time for a request to reach the server before the next step; no assertion depends on it.
SETTLE = 0.1


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


async def handshake(
    http: httpx.AsyncClient, eut: EngineUnderTest, **query: str
) -> tuple[str, dict[str, Any]]:
    response = await http.get(eut.polling_url(**query))
    assert response.status_code == 200, response.text
    assert response.text.startswith("0")
    opened: dict[str, Any] = json.loads(response.text[1:])
    return opened["sid"], opened


async def recv(ws: ClientConnection, wait: float = 3.0) -> str | bytes:
    return await asyncio.wait_for(ws.recv(), wait)


async def ws_rejection(url: str) -> InvalidStatus:
    with pytest.raises(InvalidStatus) as info:
        async with connect(url, open_timeout=5):
            pass
    return info.value


async def assert_ws_refused(url: str, message: str) -> None:
    """Refused, as the reference does it: a 400 before the upgrade, or (for errors found after
    ``ws`` took the upgrade, like the protocol version) a connection closed before any packet."""
    status: InvalidStatus | None = None
    try:
        async with connect(url, open_timeout=5) as ws:
            with pytest.raises(ConnectionClosed):
                await recv(ws)
    except InvalidStatus as exc:
        status = exc
    if status is not None:
        assert status.response.status_code == 400
        assert message.encode() in status.response.body


async def open_sid(ws: ClientConnection) -> str:
    """Read the open packet of a direct WebSocket session and return its sid."""
    opened = await recv(ws)
    assert isinstance(opened, str)
    assert opened[0] == "0"
    sid: str = json.loads(opened[1:])["sid"]
    return sid


async def drain(ws: ClientConnection) -> list[str | bytes]:
    """Every message until the server closes the connection."""
    received: list[str | bytes] = []
    while True:
        try:
            received.append(await recv(ws))
        except ConnectionClosed:
            return received


def assert_error(response: httpx.Response, status: int, code: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"code": code, "message": message}


# -- handshake and routing errors ---------------------------------------------------------------


async def test_unknown_transport(engine: EngineStarter, http: httpx.AsyncClient) -> None:
    eut = await engine()
    response = await http.get(eut.url(EIO="4", transport="carrier-pigeon"))
    assert_error(response, 400, 0, "Transport unknown")


async def test_missing_transport_does_not_default_to_polling(
    engine: EngineStarter, http: httpx.AsyncClient
) -> None:
    eut = await engine()
    assert_error(await http.get(eut.url(EIO="4")), 400, 0, "Transport unknown")


async def test_disabled_transport_is_unknown(
    engine: EngineStarter, http: httpx.AsyncClient
) -> None:
    eut = await engine(transports=["websocket"])
    assert_error(await http.get(eut.polling_url()), 400, 0, "Transport unknown")


async def test_unknown_sid(engine: EngineStarter, http: httpx.AsyncClient) -> None:
    eut = await engine()
    assert_error(await http.get(eut.polling_url("nope")), 400, 1, "Session ID unknown")
    response = await http.post(eut.polling_url("nope"), content="4hi")
    assert_error(response, 400, 1, "Session ID unknown")
    rejected = await ws_rejection(eut.websocket_url("nope"))
    assert rejected.response.status_code == 400
    assert b"Session ID unknown" in rejected.response.body


async def test_handshake_must_be_get(engine: EngineStarter, http: httpx.AsyncClient) -> None:
    eut = await engine()
    response = await http.post(eut.polling_url(), content="4hi")
    assert_error(response, 400, 2, "Bad handshake method")
    assert not await eut.session_ids()


@pytest.mark.parametrize("eio", [None, "3", "5", ""])
async def test_unsupported_protocol_version(
    engine: EngineStarter, http: httpx.AsyncClient, eio: str | None
) -> None:
    eut = await engine()
    query = {"transport": "polling"} if eio is None else {"EIO": eio, "transport": "polling"}
    response = await http.get(eut.url(**query))
    assert_error(response, 400, 5, "Unsupported protocol version")
    ws_query = {"transport": "websocket"} if eio is None else {"EIO": eio, "transport": "websocket"}
    await assert_ws_refused(eut.url("ws", **ws_query), "Unsupported protocol version")
    assert not await eut.session_ids()


async def test_websocket_transport_over_plain_get(
    engine: EngineStarter, http: httpx.AsyncClient
) -> None:
    eut = await engine()
    response = await http.get(eut.url(EIO="4", transport="websocket"))
    assert_error(response, 400, 3, "Bad request")


async def test_allow_request_refusal(engine: EngineStarter, http: httpx.AsyncClient) -> None:
    eut = await engine(refuse="not today")
    assert_error(await http.get(eut.polling_url()), 403, 4, "not today")
    rejected = await ws_rejection(eut.websocket_url())
    # The reference answers every refused upgrade with a plain 400 carrying the message.
    assert rejected.response.status_code == 400
    assert b"not today" in rejected.response.body
    assert not await eut.session_ids()


# -- the open packet ----------------------------------------------------------------------------


async def test_open_packet_over_polling(engine: EngineStarter, http: httpx.AsyncClient) -> None:
    eut = await engine(ping_interval=0.3, ping_timeout=0.2, max_http_buffer_size=5000)
    response = await http.get(eut.polling_url())
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=UTF-8"
    assert response.text.startswith("0{")
    opened = json.loads(response.text[1:])
    assert list(opened) == ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"]
    assert opened["upgrades"] == ["websocket"]
    assert opened["pingInterval"] == 300
    assert opened["pingTimeout"] == 200
    assert opened["maxPayload"] == 5000
    assert isinstance(opened["sid"], str)
    assert len(opened["sid"]) == 20
    assert await eut.session_ids() == [opened["sid"]]


async def test_open_packet_over_websocket(engine: EngineStarter) -> None:
    eut = await engine(ping_interval=0.3, ping_timeout=0.2)
    async with connect(eut.websocket_url()) as ws:
        first = await recv(ws)
        assert isinstance(first, str)
        assert first.startswith("0{")
        opened = json.loads(first[1:])
        assert list(opened) == ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"]
        assert opened["upgrades"] == []
        assert (opened["pingInterval"], opened["pingTimeout"]) == (300, 200)
        assert opened["maxPayload"] == 1_000_000


async def test_no_upgrades_offered_when_disabled(
    engine: EngineStarter, http: httpx.AsyncClient
) -> None:
    eut = await engine(allow_upgrades=False)
    _, opened = await handshake(http, eut)
    assert opened["upgrades"] == []


async def test_initial_packet(engine: EngineStarter, http: httpx.AsyncClient) -> None:
    eut = await engine(initial_packet="welcome")
    response = await http.get(eut.polling_url())
    packets = response.text.split(RS)
    assert packets[0].startswith("0{")
    assert packets[1:] == ["4welcome"]


# -- polling ------------------------------------------------------------------------------------


async def test_post_answers_ok(engine: EngineStarter, http: httpx.AsyncClient) -> None:
    eut = await engine()
    sid, _ = await handshake(http, eut)
    response = await http.post(eut.polling_url(sid), content=f"4hello{RS}bAAEC/w==")
    assert response.status_code == 200
    assert response.text == "ok"
    assert response.headers["content-type"].startswith("text/html")
    assert (await eut.expect_event("message", sid=sid))["data"] == "hello"
    assert (await eut.expect_event("message", sid=sid))["data"] == b"\x00\x01\x02\xff"


async def test_poll_delivers_buffered_messages(
    engine: EngineStarter, http: httpx.AsyncClient
) -> None:
    eut = await engine()
    sid, _ = await handshake(http, eut)
    await eut.send(sid, "one")
    await eut.send(sid, b"\x01\x02")
    await asyncio.sleep(SETTLE)
    response = await http.get(eut.polling_url(sid))
    assert response.status_code == 200
    assert response.text == f"4one{RS}bAQI="
    assert response.headers["cache-control"] == "no-store"


async def test_second_concurrent_get_closes_session(
    engine: EngineStarter, http: httpx.AsyncClient
) -> None:
    eut = await engine()
    sid, _ = await handshake(http, eut)
    pending = asyncio.create_task(http.get(eut.polling_url(sid)))
    await asyncio.sleep(SETTLE)
    second = await http.get(eut.polling_url(sid))
    assert second.status_code == 400
    first = await pending
    assert first.status_code == 200
    assert first.text == "1"
    closed = await eut.expect_event("close", sid=sid)
    assert closed["reason"] == "transport error"
    assert sid not in await eut.session_ids()


@pytest.mark.parametrize("body", ["garbage", "4ok\x1ezzz", "", "\x1e\x1e"])
async def test_malformed_post_closes_session(
    engine: EngineStarter, http: httpx.AsyncClient, body: str
) -> None:
    eut = await engine()
    sid, _ = await handshake(http, eut)
    await http.post(eut.polling_url(sid), content=body)
    closed = await eut.expect_event("close", sid=sid)
    assert closed["reason"] == "parse error"
    assert_error(await http.get(eut.polling_url(sid)), 400, 1, "Session ID unknown")


async def test_aborted_get_closes_session(engine: EngineStarter, http: httpx.AsyncClient) -> None:
    eut = await engine()
    sid, _ = await handshake(http, eut)
    _, writer = await asyncio.open_connection("127.0.0.1", eut.port)
    target = eut.polling_url(sid).removeprefix(eut.base_url)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    await asyncio.sleep(SETTLE)
    writer.close()
    closed = await eut.expect_event("close", sid=sid)
    assert closed["reason"] == "transport error"
    assert sid not in await eut.session_ids()


async def test_pending_get_released_with_close_packet(
    engine: EngineStarter, http: httpx.AsyncClient
) -> None:
    eut = await engine()
    sid, _ = await handshake(http, eut)
    pending = asyncio.create_task(http.get(eut.polling_url(sid)))
    await asyncio.sleep(SETTLE)
    await eut.close_socket(sid)
    response = await pending
    assert response.status_code == 200
    assert response.text == "1"
    assert (await eut.expect_event("close", sid=sid))["reason"] == "forced close"


async def test_client_close_packet_over_polling(
    engine: EngineStarter, http: httpx.AsyncClient
) -> None:
    eut = await engine()
    sid, _ = await handshake(http, eut)
    pending = asyncio.create_task(http.get(eut.polling_url(sid)))
    await asyncio.sleep(SETTLE)
    response = await http.post(eut.polling_url(sid), content="1")
    assert response.text == "ok"
    assert (await pending).text == "6"
    assert (await eut.expect_event("close", sid=sid))["reason"] == "transport close"


async def test_oversize_post(engine: EngineStarter, http: httpx.AsyncClient) -> None:
    eut = await engine(max_http_buffer_size=100)
    sid, _ = await handshake(http, eut)
    response = await http.post(eut.polling_url(sid), content="4" + "x" * 200)
    assert response.status_code == 413
    assert not eut.log.seen(lambda ev: ev["event"] == "message")
    # The server stays healthy for others.
    await handshake(http, eut)


async def test_heartbeat_over_polling(engine: EngineStarter, http: httpx.AsyncClient) -> None:
    # A short interval for quick pings; a timeout a loaded machine's pong round trip fits in.
    eut = await engine(ping_interval=0.1, ping_timeout=1.0)
    sid, _ = await handshake(http, eut)
    for _ in range(3):
        response = await http.get(eut.polling_url(sid))
        assert response.text == "2"
        assert (await http.post(eut.polling_url(sid), content="3")).text == "ok"
    closed = await eut.expect_event("close", sid=sid, timeout=5.0)
    assert closed["reason"] == "ping timeout"


async def test_ping_from_client_is_an_error(engine: EngineStarter, http: httpx.AsyncClient) -> None:
    eut = await engine()
    sid, _ = await handshake(http, eut)
    await http.post(eut.polling_url(sid), content="2")
    closed = await eut.expect_event("close", sid=sid)
    assert closed["reason"] == "transport error"


# -- upgrade ------------------------------------------------------------------------------------


async def upgrade(
    http: httpx.AsyncClient, eut: EngineUnderTest
) -> tuple[str, ClientConnection, asyncio.Task[httpx.Response]]:
    """Handshake over polling, park a GET, probe and upgrade; return the live websocket."""
    sid, _ = await handshake(http, eut)
    pending = asyncio.create_task(http.get(eut.polling_url(sid)))
    await asyncio.sleep(SETTLE)
    ws = await connect(eut.websocket_url(sid))
    await ws.send("2probe")
    assert await recv(ws) == "3probe"
    return sid, ws, pending


async def test_upgrade_releases_pending_get_with_noop(
    engine: EngineStarter, http: httpx.AsyncClient
) -> None:
    eut = await engine()
    sid, ws, pending = await upgrade(http, eut)
    try:
        released = await pending
        assert released.status_code == 200
        assert released.text == "6"
        await ws.send("5")
        await eut.expect_event("upgrade", sid=sid, transport="websocket")
        await eut.send(sid, "after upgrade")
        await eut.send(sid, b"\x07")
        # Nothing stray between the probe and the data.
        assert await recv(ws) == "4after upgrade"
        assert await recv(ws) == b"\x07"
        await ws.send("4from ws")
        assert (await eut.expect_event("message", sid=sid))["data"] == "from ws"
    finally:
        await ws.close()


async def test_messages_buffered_during_probe_go_over_websocket(
    engine: EngineStarter, http: httpx.AsyncClient
) -> None:
    eut = await engine()
    sid, ws, pending = await upgrade(http, eut)
    try:
        assert (await pending).text == "6"
        await eut.send(sid, "queued")
        await asyncio.sleep(SETTLE)
        await ws.send("5")
        assert await recv(ws) == "4queued"
    finally:
        await ws.close()


async def test_after_upgrade_polling_is_refused_and_second_websocket_closed(
    engine: EngineStarter, http: httpx.AsyncClient
) -> None:
    eut = await engine()
    sid, ws, pending = await upgrade(http, eut)
    try:
        await pending
        await ws.send("5")
        await eut.expect_event("upgrade", sid=sid)
        assert_error(await http.get(eut.polling_url(sid)), 400, 3, "Bad request")
        assert_error(await http.post(eut.polling_url(sid), content="4x"), 400, 3, "Bad request")
        async with connect(eut.websocket_url(sid)) as second:
            with pytest.raises(ConnectionClosed):
                await recv(second)
        # The upgraded session is untouched.
        await eut.send(sid, "still here")
        assert await recv(ws) == "4still here"
        assert not eut.log.seen(lambda ev: ev["event"] == "close")
    finally:
        await ws.close()
    assert (await eut.expect_event("close", sid=sid))["reason"] == "transport close"


#: Enough repetitions to catch an ordering gap that lost most runs.
UPGRADE_RACE_RUNS = 30


def dechunk(body: bytes) -> bytes:
    """A chunked HTTP/1.1 body's data."""
    data = b""
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        data, body = data + body[:size], body[size + 2 :]
    return data


async def polling_right_after_the_upgrade_packet(
    http: httpx.AsyncClient,
    polling_url: Callable[[str | None], str],
    websocket_url: Callable[[str], str],
) -> None:
    """Upgrade, then a GET written right after the ``5``: it must get 400, the session lives on.

    The ``5`` travels on the WebSocket and the GET on another connection, written before this
    task yields, so both reach the server together: a host may hand the engine the GET first.
    """
    for _ in range(UPGRADE_RACE_RUNS):
        response = await http.get(polling_url(None))
        sid = json.loads(response.text[1:])["sid"]
        target = urllib.parse.urlsplit(polling_url(sid))
        reader, writer = await asyncio.open_connection(target.hostname, target.port)
        try:
            async with connect(websocket_url(sid)) as ws:
                await ws.send("2probe")
                assert await recv(ws) == "3probe"
                await ws.send("5")
                writer.write(
                    f"GET {target.path}?{target.query} HTTP/1.1\r\nHost: {target.netloc}\r\n"
                    "Connection: close\r\n\r\n".encode()
                )
                async with asyncio.timeout(5):
                    answer = await reader.read()
                head, _, body = answer.partition(b"\r\n\r\n")
                assert head.split(b"\r\n")[0] == b"HTTP/1.1 400 Bad Request", answer
                assert json.loads(dechunk(body) if b"chunked" in head.lower() else body) == {
                    "code": 3,
                    "message": "Bad request",
                }
                await ws.send("4still here")  # the session lives on, over the WebSocket
                await ws.send("2")  # a ping from the client is an error: proves "4" went first
                with pytest.raises(ConnectionClosed):
                    await recv(ws)
        finally:
            writer.close()


async def test_polling_right_after_the_upgrade_packet_is_refused(
    engine: EngineStarter, http: httpx.AsyncClient
) -> None:
    eut = await engine()
    await polling_right_after_the_upgrade_packet(
        http, lambda sid: eut.polling_url(sid) if sid else eut.polling_url(), eut.websocket_url
    )
    for _ in range(UPGRADE_RACE_RUNS):
        message = await eut.expect_event("message")
        assert message["data"] == "still here"
        closed = await eut.expect_event("close", sid=message["sid"])
        assert closed["reason"] == "transport error"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # uvicorn's legacy websockets module
@pytest.mark.parametrize("uvicorn_ws", ["websockets", "wsproto"])  # "auto" is the asgi host
async def test_polling_right_after_the_upgrade_packet_under_each_uvicorn_websocket(
    http: httpx.AsyncClient, uvicorn_ws: str
) -> None:
    server = EngineServer()
    host = await start_host("asgi", server, uvicorn_ws=uvicorn_ws)
    base = f"{host.base_url}/engine.io/?EIO=4&transport=polling"
    try:
        await polling_right_after_the_upgrade_packet(
            http,
            lambda sid: base + (f"&sid={sid}" if sid else ""),
            lambda sid: f"{host.ws_base_url}/engine.io/?EIO=4&transport=websocket&sid={sid}",
        )
    finally:
        await host.close()


async def test_bad_probe_abandons_upgrade(engine: EngineStarter, http: httpx.AsyncClient) -> None:
    eut = await engine()
    sid, _ = await handshake(http, eut)
    async with connect(eut.websocket_url(sid)) as ws:
        await ws.send("4not a probe")
        with pytest.raises(ConnectionClosed):
            await recv(ws)
    # The polling session lives on.
    assert (await http.post(eut.polling_url(sid), content="4still")).text == "ok"
    assert (await eut.expect_event("message", sid=sid))["data"] == "still"


async def test_a_repeated_probe_is_answered_again(
    engine: EngineStarter, http: httpx.AsyncClient
) -> None:
    """A second ``2probe`` on the candidate gets a second ``3probe``, and the ``5`` still upgrades."""
    eut = await engine()
    sid, _ = await handshake(http, eut)
    async with connect(eut.websocket_url(sid)) as ws:
        await ws.send("2probe")
        assert await recv(ws) == "3probe"
        await ws.send("2probe")
        assert await recv(ws) == "3probe"
        await ws.send("5")
        await ws.send("4upgraded")
        assert (await eut.expect_event("message", sid=sid))["data"] == "upgraded"


# -- websocket sessions -------------------------------------------------------------------------


async def test_websocket_disconnect(engine: EngineStarter) -> None:
    eut = await engine()
    async with connect(eut.websocket_url()) as ws:
        sid = await open_sid(ws)
        await ws.send("4hi")
        assert (await eut.expect_event("message", sid=sid))["data"] == "hi"
    closed = await eut.expect_event("close", sid=sid)
    assert closed["reason"] == "transport close"
    assert sid not in await eut.session_ids()


async def test_websocket_server_close(engine: EngineStarter) -> None:
    eut = await engine()
    async with connect(eut.websocket_url()) as ws:
        sid = await open_sid(ws)
        await eut.send(sid, "bye")
        await eut.close_socket(sid)
        received = await drain(ws)
        # No close packet: the WebSocket just closes, as the reference does.
        assert received == ["4bye"]
    assert (await eut.expect_event("close", sid=sid))["reason"] == "forced close"


async def test_websocket_garbage_closes_session(engine: EngineStarter) -> None:
    eut = await engine()
    async with connect(eut.websocket_url()) as ws:
        sid = await open_sid(ws)
        await ws.send("zzz")
        closed = await eut.expect_event("close", sid=sid)
        assert closed["reason"] == "parse error"


async def test_websocket_oversize_message_closes_session(engine: EngineStarter) -> None:
    eut = await engine(max_http_buffer_size=100)
    async with connect(eut.websocket_url()) as ws:
        sid = await open_sid(ws)
        await ws.send("4" + "x" * 500)
        closed = await eut.expect_event("close", sid=sid)
        assert closed["reason"] == "transport error"
    assert not eut.log.seen(lambda ev: ev["event"] == "message")


# -- hostile input ------------------------------------------------------------------------------

HOSTILE_BODIES: list[bytes] = [
    b"\xfe" + random.Random(1234).randbytes(63),
    b"4abc\x1e",  # truncated: an empty packet after the separator
    b"\xff\xfe\xfd",  # not UTF-8
    b"9x",  # unknown packet type
]


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=["random", "truncated", "utf8", "type"])
async def test_hostile_posts(
    engine: EngineStarter,
    http: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiosio")
    eut = await engine()
    sid, _ = await handshake(http, eut)
    response = await http.post(eut.polling_url(sid), content=body)
    # The POST itself is answered; the session is what closes.
    assert (response.status_code, response.text) == (200, "ok")
    closed = await eut.expect_event("close", sid=sid)
    assert closed["reason"] == "parse error"
    if not eut.is_reference:
        assert any(r.name.startswith("aiosio") for r in caplog.records), "no log line"
    # Another session works.
    other, _ = await handshake(http, eut)
    assert (await http.post(eut.polling_url(other), content="4fine")).text == "ok"
    assert (await eut.expect_event("message", sid=other))["data"] == "fine"


@pytest.mark.parametrize("body", ["b!!!!", "bA", "4x\x1eb%%%"])
async def test_bad_base64_closes_session(
    engine: EngineStarter,
    http: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
    body: str,
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiosio")
    eut = await engine()
    if eut.is_reference:
        skip_reference("Node's base64 decoder skips bad characters; aiosio refuses the payload")
    sid, _ = await handshake(http, eut)
    response = await http.post(eut.polling_url(sid), content=body)
    assert (response.status_code, response.text) == (200, "ok")
    assert (await eut.expect_event("close", sid=sid))["reason"] == "parse error"
    assert any(r.name.startswith("aiosio") for r in caplog.records), "no log line"
    assert not eut.log.seen(lambda ev: ev["event"] == "message" and isinstance(ev["data"], bytes))
    other, _ = await handshake(http, eut)
    assert (await http.post(eut.polling_url(other), content="4fine")).text == "ok"


async def test_packets_on_a_closed_session(engine: EngineStarter, http: httpx.AsyncClient) -> None:
    eut = await engine()
    sid, _ = await handshake(http, eut)
    assert (await http.post(eut.polling_url(sid), content="1")).text == "ok"
    await eut.expect_event("close", sid=sid)
    assert_error(
        await http.post(eut.polling_url(sid), content="4late"), 400, 1, "Session ID unknown"
    )
    assert_error(await http.get(eut.polling_url(sid)), 400, 1, "Session ID unknown")
    assert not eut.log.seen(lambda ev: ev["event"] == "message")


async def test_sessions_table_empties(engine: EngineStarter, http: httpx.AsyncClient) -> None:
    eut = await engine()
    sids = [(await handshake(http, eut))[0] for _ in range(20)]
    assert sorted(await eut.session_ids()) == sorted(sids)
    for sid in sids[:10]:
        await http.post(eut.polling_url(sid), content="1")
    for sid in sids[10:]:
        # A server-side close goes out with the next poll (the reference waits for it).
        await eut.close_socket(sid)
        assert (await http.get(eut.polling_url(sid))).text.endswith("1")
    for sid in sids:
        await eut.expect_event("close", sid=sid)
    assert await eut.session_ids() == []
    if not eut.is_reference:
        assert eut.engine.clients_count == 0


# -- CORS and cookies ---------------------------------------------------------------------------

ORIGIN = "https://app.example"


async def test_no_cors_headers_by_default(engine: EngineStarter, http: httpx.AsyncClient) -> None:
    eut = await engine()
    own = await http.get(eut.polling_url(), headers={"Origin": eut.base_url})
    assert own.status_code == 200
    assert not [h for h in own.headers if h.lower().startswith("access-control-")]
    foreign = await http.get(eut.polling_url(), headers={"Origin": ORIGIN})
    if eut.is_reference:
        assert foreign.status_code == 200  # the reference leaves origins to the browser
        assert not [h for h in foreign.headers if h.lower().startswith("access-control-")]
    else:
        assert_error(foreign, 403, 4, "Forbidden")  # same-origin only without a cors option
    preflight = await http.request(
        "OPTIONS",
        eut.polling_url(),
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"},
    )
    assert_error(preflight, 400, 2, "Bad handshake method")


async def test_cors_star(engine: EngineStarter, http: httpx.AsyncClient) -> None:
    eut = await engine(cors="*")
    response = await http.get(eut.polling_url(), headers={"Origin": ORIGIN})
    assert response.headers["access-control-allow-origin"] == "*"
    sid = json.loads(response.text[1:])["sid"]
    post = await http.post(eut.polling_url(sid), content="4x", headers={"Origin": ORIGIN})
    assert post.headers["access-control-allow-origin"] == "*"
    error = await http.get(eut.polling_url("nope"), headers={"Origin": ORIGIN})
    assert error.status_code == 400
    assert error.headers["access-control-allow-origin"] == "*"


async def test_cors_preflight(engine: EngineStarter, http: httpx.AsyncClient) -> None:
    eut = await engine(cors="*")
    response = await http.request(
        "OPTIONS",
        eut.polling_url(),
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-custom, content-type",
        },
    )
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == "GET,HEAD,PUT,PATCH,POST,DELETE"
    assert response.headers["access-control-allow-headers"] == "x-custom, content-type"
    assert not await eut.session_ids()


async def test_cors_list(engine: EngineStarter, http: httpx.AsyncClient) -> None:
    eut = await engine(cors=[ORIGIN, "https://other.example"])
    allowed = await http.get(eut.polling_url(), headers={"Origin": ORIGIN})
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "origin" in allowed.headers["vary"].lower()
    refused = await http.get(eut.polling_url(), headers={"Origin": "https://evil.example"})
    if eut.is_reference:
        assert refused.status_code == 200  # the reference leaves it to the browser's CORS check
    else:
        assert_error(refused, 403, 4, "Forbidden")  # aiosio opens no session for that origin
    assert "access-control-allow-origin" not in refused.headers
    preflight = await http.request(
        "OPTIONS",
        eut.polling_url(),
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == ORIGIN


async def test_cors_callable(
    engine: EngineStarter, engine_kind: str, http: httpx.AsyncClient
) -> None:
    if engine_kind == "reference":
        skip_reference("the reference backend takes no Python callable")
    judge: Callable[[str], bool] = lambda origin: origin.endswith(".example")  # noqa: E731
    eut = await engine(cors=judge)
    allowed = await http.get(eut.polling_url(), headers={"Origin": ORIGIN})
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    refused = await http.get(eut.polling_url(), headers={"Origin": "https://evil.test"})
    assert "access-control-allow-origin" not in refused.headers


async def test_cookie(engine: EngineStarter, http: httpx.AsyncClient) -> None:
    eut = await engine(cookie=True)
    response = await http.get(eut.polling_url())
    sid = json.loads(response.text[1:])["sid"]
    assert response.headers.get_list("set-cookie") == [f"io={sid}; Path=/; HttpOnly; SameSite=Lax"]
    http.cookies.clear()
    poll = asyncio.create_task(http.get(eut.polling_url(sid)))
    await asyncio.sleep(SETTLE)
    await eut.send(sid, "x")
    assert "set-cookie" not in (await poll).headers


async def test_no_cookie_by_default(engine: EngineStarter, http: httpx.AsyncClient) -> None:
    eut = await engine()
    response = await http.get(eut.polling_url())
    assert "set-cookie" not in response.headers
