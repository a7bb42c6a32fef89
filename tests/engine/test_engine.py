"""The Engine.IO server driven through its host seam: every rule of the protocol, no sockets."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import parse_qsl

import pytest

from aiosio import RequestRefused
from aiosio.engine.http import Request
from aiosio.engine.server import EngineServer
from aiosio.engine.socket import EngineSocket

from .seam import FakeWebSocket, Responder, call, request

Q = "EIO=4&transport=polling"


class Recorder:
    """Records the sessions an engine opens and what happens to them."""

    def __init__(self, eng: EngineServer, echo: bool = False) -> None:
        self.sockets: list[EngineSocket] = []
        self.messages: list[str | bytes] = []
        self.closes: list[tuple[str, str | None]] = []
        self.closed = asyncio.Event()
        eng.on("connection", self._on_connection)
        self.echo = echo

    def _on_connection(self, socket: EngineSocket) -> None:
        self.sockets.append(socket)

        def on_message(data: str | bytes) -> None:
            self.messages.append(data)
            if self.echo:
                socket.send(data)

        def on_close(reason: str, description: str | None) -> None:
            self.closes.append((reason, description))
            self.closed.set()

        socket.on("message", on_message)
        socket.on("close", on_close)


async def open_polling(eng: EngineServer, query: str = Q) -> tuple[str, dict[str, Any]]:
    response = await call(eng, request("GET", query))
    assert response.status == 200
    body = response.body.decode()
    assert body[0] == "0"
    handshake = json.loads(body[1:].split("\x1e")[0])
    return handshake["sid"], handshake


async def test_handshake_has_exactly_the_reference_keys_in_ms() -> None:
    eng = EngineServer(ping_interval=0.3, ping_timeout=0.25, max_http_buffer_size=1234)
    response = await call(eng, request("GET", Q))
    assert ("Content-Type", "text/plain; charset=UTF-8") in response.headers
    body = response.body.decode()
    handshake = json.loads(body[1:])
    assert list(handshake) == ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"]
    assert handshake["pingInterval"] == 300
    assert handshake["pingTimeout"] == 250
    assert handshake["maxPayload"] == 1234
    assert handshake["upgrades"] == ["websocket"]
    assert len(handshake["sid"]) == 20
    # The separator-free compact form, byte for byte.
    assert body == (
        '0{{"sid":"{}","upgrades":["websocket"],"pingInterval":300,"pingTimeout":250,'
        '"maxPayload":1234}}'.format(handshake["sid"])
    )


async def test_upgrades_empty_without_websocket_or_over_websocket() -> None:
    eng = EngineServer(transports=["polling"])
    _, handshake = await open_polling(eng)
    assert handshake["upgrades"] == []
    eng2 = EngineServer()
    ws = FakeWebSocket()
    eng2.handle_websocket(request("GET", "EIO=4&transport=websocket"), ws)
    opened = await ws.recv()
    assert isinstance(opened, str)
    assert json.loads(opened[1:])["upgrades"] == []


@pytest.mark.parametrize(
    ("method", "query", "status", "code", "message"),
    [
        ("GET", "EIO=4&transport=foo", 400, 0, "Transport unknown"),
        ("GET", "EIO=4", 400, 0, "Transport unknown"),
        ("GET", "EIO=4&transport=polling&sid=nope", 400, 1, "Session ID unknown"),
        ("POST", "EIO=4&transport=polling", 400, 2, "Bad handshake method"),
        ("PUT", "EIO=4&transport=polling", 400, 2, "Bad handshake method"),
        ("GET", "EIO=4&transport=websocket", 400, 3, "Bad request"),
        ("GET", "EIO=3&transport=polling", 400, 5, "Unsupported protocol version"),
        ("GET", "transport=polling", 400, 5, "Unsupported protocol version"),
    ],
)
async def test_refusals_match_the_reference(
    method: str, query: str, status: int, code: int, message: str
) -> None:
    eng = EngineServer()
    response = await call(eng, request(method, query))
    assert response.status == status
    assert ("Content-Type", "application/json") in response.headers
    assert json.loads(response.body) == {"code": code, "message": message}
    assert eng.clients == {}


async def test_polling_round_trip_text_and_binary() -> None:
    eng = EngineServer()
    rec = Recorder(eng, echo=True)
    sid, _ = await open_polling(eng)
    post = await call(
        eng, request("POST", f"{Q}&sid={sid}", b"4hello\x1ebAQID\x1e4\xc3\xa9t\xc3\xa9")
    )
    assert (post.status, post.body) == (200, b"ok")
    assert ("Content-Type", "text/html") in post.headers
    assert rec.messages == ["hello", b"\x01\x02\x03", "été"]
    got = await call(eng, request("GET", f"{Q}&sid={sid}"))
    assert got.body.decode() == "4hello\x1ebAQID\x1e4été"


async def test_pending_get_is_released_by_a_send() -> None:
    eng = EngineServer()
    rec = Recorder(eng)
    sid, _ = await open_polling(eng)
    poll = Responder()
    eng.handle_request(request("GET", f"{Q}&sid={sid}"), poll)
    await asyncio.sleep(0.01)
    assert not poll.future.done()
    rec.sockets[0].send("a")
    rec.sockets[0].send("b")
    assert (await poll.get()).body == b"4a\x1e4b"


async def test_second_concurrent_get_closes_the_session() -> None:
    eng = EngineServer()
    rec = Recorder(eng)
    sid, _ = await open_polling(eng)
    first = Responder()
    eng.handle_request(request("GET", f"{Q}&sid={sid}"), first)
    second = await call(eng, request("GET", f"{Q}&sid={sid}"))
    assert second.status == 400
    assert (await first.get()).body == b"1"
    assert rec.closes == [("transport error", "overlap from client")]
    assert sid not in eng.clients


async def test_malformed_post_delivers_earlier_packets_then_closes() -> None:
    eng = EngineServer()
    rec = Recorder(eng)
    sid, _ = await open_polling(eng)
    post = await call(eng, request("POST", f"{Q}&sid={sid}", b"4first\x1eX\x1e4never"))
    assert post.status == 200
    assert rec.messages == ["first"]
    assert rec.closes[0][0] == "parse error"
    assert sid not in eng.clients


@pytest.mark.parametrize("body", [b"", b"\xff\xfe", b"b!!notbase64", b"9", b"4ok\x1e"], ids=repr)
async def test_bad_payloads_close_only_their_session(
    body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    eng = EngineServer()
    rec = Recorder(eng, echo=True)
    sid, _ = await open_polling(eng)
    other, _ = await open_polling(eng)
    with caplog.at_level(logging.INFO, logger="aiosio.engine"):
        await call(eng, request("POST", f"{Q}&sid={sid}", body))
    assert rec.closes
    assert rec.closes[0][0] == "parse error"
    # One line says why, naming the peer; the session id (a credential) is not in it.
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert any("payload" in line for line in loud)
    assert not any(sid in line for line in loud)
    assert list(eng.clients) == [other]
    await call(eng, request("POST", f"{Q}&sid={other}", b"4still here"))
    assert (await call(eng, request("GET", f"{Q}&sid={other}"))).body == b"4still here"


async def test_oversize_and_binary_content_type_posts() -> None:
    eng = EngineServer(max_http_buffer_size=10)
    rec = Recorder(eng)
    sid, _ = await open_polling(eng)
    big = Request("POST", "/engine.io/", f"{Q}&sid={sid}", {}, b"", body_too_large=True)
    assert (await call(eng, big)).status == 413
    # As the reference: the POST is refused, the session stays; the official client answers the
    # 413 with a close packet, so the session ends with "transport close".
    assert rec.closes == []
    assert sid in eng.clients
    assert (await call(eng, request("POST", f"{Q}&sid={sid}", b"1"))).status == 200
    assert rec.closes == [("transport close", None)]
    sid2, _ = await open_polling(eng)
    octet = request(
        "POST", f"{Q}&sid={sid2}", b"4x", headers={"content-type": "application/octet-stream"}
    )
    assert (await call(eng, octet)).status == 400
    assert rec.closes[-1] == ("transport error", "invalid content")


async def test_aborted_get_closes_the_session() -> None:
    eng = EngineServer()
    rec = Recorder(eng)
    sid, _ = await open_polling(eng)
    req = request("GET", f"{Q}&sid={sid}")
    eng.handle_request(req, Responder())
    assert req.on_abort is not None
    req.on_abort()
    assert rec.closes == [("transport error", "poll connection closed prematurely")]


async def test_client_close_packet() -> None:
    eng = EngineServer()
    rec = Recorder(eng)
    sid, _ = await open_polling(eng)
    poll = Responder()
    eng.handle_request(request("GET", f"{Q}&sid={sid}"), poll)
    await call(eng, request("POST", f"{Q}&sid={sid}", b"1"))
    assert rec.closes == [("transport close", None)]
    # The client is leaving: its held poll is released with a noop, as the reference does.
    assert (await poll.get()).body == b"6"


async def test_server_close_waits_for_the_next_poll() -> None:
    eng = EngineServer()
    rec = Recorder(eng)
    sid, _ = await open_polling(eng)
    socket = rec.sockets[0]
    socket.send("bye")
    socket.close()
    assert socket.ready_state == "closing"
    assert rec.closes == []
    got = await call(eng, request("GET", f"{Q}&sid={sid}"))
    assert got.body == b"4bye"
    got = await call(eng, request("GET", f"{Q}&sid={sid}"))
    assert got.body == b"1"
    assert rec.closes == [("forced close", None)]
    assert socket.ready_state == "closed"


async def test_server_close_releases_a_pending_poll_with_close() -> None:
    eng = EngineServer()
    rec = Recorder(eng)
    sid, _ = await open_polling(eng)
    poll = Responder()
    eng.handle_request(request("GET", f"{Q}&sid={sid}"), poll)
    rec.sockets[0].close()
    assert (await poll.get()).body == b"1"
    assert rec.closes == [("forced close", None)]


async def probe(eng: EngineServer, sid: str) -> FakeWebSocket:
    """A WebSocket for session ``sid`` whose probe was answered (``2probe`` -> ``3probe``)."""
    ws = FakeWebSocket()
    eng.handle_websocket(request("GET", f"EIO=4&transport=websocket&sid={sid}"), ws)
    assert ws.handler is not None
    ws.client_send("2probe")
    assert await ws.recv() == "3probe"
    return ws


async def upgrade(eng: EngineServer, sid: str) -> tuple[FakeWebSocket, Responder]:
    poll = Responder()
    eng.handle_request(request("GET", f"{Q}&sid={sid}"), poll)
    ws = await probe(eng, sid)
    assert (await poll.get()).body == b"6"
    ws.client_send("5")
    return ws, poll


async def test_upgrade_from_polling() -> None:
    eng = EngineServer()
    rec = Recorder(eng, echo=True)
    upgrades: list[str] = []
    sid, _ = await open_polling(eng)
    rec.sockets[0].on("upgrade", upgrades.append)
    ws, _ = await upgrade(eng, sid)
    assert rec.sockets[0].transport == "websocket"
    assert upgrades == ["websocket"]
    assert ws.sent.empty(), "nothing stray goes out before real data"
    ws.client_send("4hi")
    ws.client_send(b"\x00\x01")
    assert await ws.recv() == "4hi"
    assert await ws.recv() == b"\x00\x01"
    # Polling with that sid is now refused; a second websocket is accepted and closed.
    late = await call(eng, request("GET", f"{Q}&sid={sid}"))
    assert late.status == 400
    assert json.loads(late.body) == {"code": 3, "message": "Bad request"}
    second = FakeWebSocket()
    eng.handle_websocket(request("GET", f"EIO=4&transport=websocket&sid={sid}"), second)
    assert second.handler is not None
    assert second.closed_with == 1000
    assert sid in eng.clients


async def test_messages_buffered_during_upgrade_go_out_on_the_websocket() -> None:
    eng = EngineServer()
    rec = Recorder(eng)
    sid, _ = await open_polling(eng)
    ws = await probe(eng, sid)
    rec.sockets[0].send("during")
    ws.client_send("5")
    assert await ws.recv() == "4during"


async def test_a_get_mid_upgrade_is_held_until_the_upgrade_settles() -> None:
    eng = EngineServer()
    rec = Recorder(eng)
    sid, _ = await open_polling(eng)
    ws = await probe(eng, sid)
    # A GET that the host hands over before the client's "5": the "5" answers it 400 ...
    racing = Responder()
    eng.handle_request(request("GET", f"{Q}&sid={sid}"), racing)
    rec.sockets[0].send("during")  # held too: it may belong on the WebSocket
    assert not racing.future.done()
    ws.client_send("5")
    refused = await racing.get()
    assert refused.status == 400
    assert json.loads(refused.body) == {"code": 3, "message": "Bad request"}
    assert await ws.recv() == "4during"
    assert rec.sockets[0].transport == "websocket"
    assert rec.closes == []


async def test_a_get_mid_upgrade_without_the_upgrade_packet_gets_a_noop() -> None:
    eng = EngineServer()
    Recorder(eng)
    sid, _ = await open_polling(eng)
    ws = await probe(eng, sid)
    # A poll the client had in flight: released within the reference's 100 ms check interval.
    started = asyncio.get_running_loop().time()
    held = await call(eng, request("GET", f"{Q}&sid={sid}"))
    assert (held.status, held.body) == (200, b"6")
    assert asyncio.get_running_loop().time() - started >= 0.09
    ws.client_send("5")
    late = await call(eng, request("GET", f"{Q}&sid={sid}"))
    assert late.status == 400


async def test_a_bad_probe_abandons_the_upgrade_only() -> None:
    eng = EngineServer()
    rec = Recorder(eng, echo=True)
    sid, _ = await open_polling(eng)
    ws = FakeWebSocket()
    eng.handle_websocket(request("GET", f"EIO=4&transport=websocket&sid={sid}"), ws)
    ws.client_send("4not a probe")
    assert ws.closed_with == 1000
    assert rec.sockets[0].transport == "polling"
    await call(eng, request("POST", f"{Q}&sid={sid}", b"4still polling"))
    assert (await call(eng, request("GET", f"{Q}&sid={sid}"))).body == b"4still polling"


async def test_upgrade_timeout_closes_the_probe() -> None:
    eng = EngineServer(upgrade_timeout=0.05)
    rec = Recorder(eng)
    sid, _ = await open_polling(eng)
    ws = FakeWebSocket()
    eng.handle_websocket(request("GET", f"EIO=4&transport=websocket&sid={sid}"), ws)
    ws.client_send("2probe")
    await asyncio.sleep(0.15)
    assert ws.closed_with == 1000
    assert rec.sockets[0].transport == "polling"
    assert sid in eng.clients


async def test_heartbeat_pings_and_times_out() -> None:
    # A pong must beat the timeout even when the loop is slow to resume this test.
    eng = EngineServer(ping_interval=0.05, ping_timeout=0.5)
    rec = Recorder(eng)
    ws = FakeWebSocket()
    eng.handle_websocket(request("GET", "EIO=4&transport=websocket"), ws)
    await ws.recv()  # open
    assert await ws.recv() == "2"
    ws.client_send("3")
    assert await ws.recv() == "2"
    assert rec.closes == []
    async with asyncio.timeout(3):
        await rec.closed.wait()
    assert rec.closes == [("ping timeout", None)]
    assert ws.closed_with == 1000
    assert eng.clients == {}


async def test_ping_from_client_is_a_transport_error() -> None:
    eng = EngineServer()
    rec = Recorder(eng)
    ws = FakeWebSocket()
    eng.handle_websocket(request("GET", "EIO=4&transport=websocket"), ws)
    ws.client_send("2")
    assert rec.closes == [("transport error", "invalid heartbeat direction")]


async def test_websocket_disconnect_and_garbage() -> None:
    eng = EngineServer()
    rec = Recorder(eng)
    ws = FakeWebSocket()
    eng.handle_websocket(request("GET", "EIO=4&transport=websocket"), ws)
    assert ws.handler is not None
    ws.handler.on_disconnect()
    assert rec.closes == [("transport close", None)]
    ws2 = FakeWebSocket()
    eng.handle_websocket(request("GET", "EIO=4&transport=websocket"), ws2)
    ws2.client_send("x")
    assert rec.closes[-1][0] == "parse error"
    assert eng.clients == {}


async def test_allow_request_refusals() -> None:
    async def hook(req: Request) -> bool | str:
        token = req.query.get("token")
        if token == "teapot":
            raise RequestRefused("I am a teapot", status=418)
        return True if token == "ok" else "Not allowed"

    eng = EngineServer(allow_request=hook)
    refused = await call(eng, request("GET", f"{Q}&token=no"))
    assert refused.status == 403
    assert json.loads(refused.body) == {"code": 4, "message": "Not allowed"}
    teapot = await call(eng, request("GET", f"{Q}&token=teapot"))
    assert teapot.status == 418
    assert json.loads(teapot.body) == {"code": 4, "message": "I am a teapot"}
    ok = await call(eng, request("GET", f"{Q}&token=ok"))
    assert ok.status == 200
    ws = FakeWebSocket()
    eng.handle_websocket(request("GET", "EIO=4&transport=websocket&token=no"), ws)
    await asyncio.sleep(0.01)
    assert ws.rejected is not None
    assert ws.rejected.status == 400
    assert ws.rejected.body == b"Not allowed"


async def test_cookie_cors_initial_packet_and_header_hooks() -> None:
    eng = EngineServer(cookie=True, cors=["https://a.example"], initial_packet="welcome")
    seen: list[str] = []

    @eng.on("initial_headers")
    def initial(headers: list[tuple[str, str]], req: Request) -> None:
        headers.append(("X-Initial", "1"))

    @eng.on("headers")
    def every(headers: list[tuple[str, str]], req: Request) -> None:
        seen.append(req.method)

    response = await call(eng, request("GET", Q, headers={"origin": "https://a.example"}))
    body = response.body.decode()
    sid = json.loads(body[1:].split("\x1e")[0])["sid"]
    assert body.endswith("\x1e4welcome")
    headers = dict(response.headers)
    assert headers["Set-Cookie"] == f"io={sid}; Path=/; HttpOnly; SameSite=Lax"
    assert headers["Access-Control-Allow-Origin"] == "https://a.example"
    assert headers["X-Initial"] == "1"
    denied = await call(eng, request("GET", Q, headers={"origin": "https://evil.example"}))
    assert denied.status == 403  # a foreign origin opens no session
    assert json.loads(denied.body) == {"code": 4, "message": "Forbidden"}
    assert "Access-Control-Allow-Origin" not in dict(denied.headers)
    preflight = await call(
        eng,
        request(
            "OPTIONS",
            Q,
            headers={"origin": "https://a.example", "access-control-request-headers": "x-token"},
        ),
    )
    assert preflight.status == 204
    pre = dict(preflight.headers)
    assert pre["Access-Control-Allow-Methods"] == "GET,HEAD,PUT,PATCH,POST,DELETE"
    assert pre["Access-Control-Allow-Headers"] == "x-token"
    assert seen == ["GET"]  # the refused request never reached the header hooks


async def test_websocket_handshake_gets_the_cookie_and_header_hooks() -> None:
    eng = EngineServer(cookie={"name": "sticky", "same_site": "strict"})
    eng.on("headers", lambda headers, req: headers.append(("X-Node", "a")))
    ws = FakeWebSocket()
    eng.handle_websocket(request("GET", "EIO=4&transport=websocket"), ws)
    opened = await ws.recv()
    assert isinstance(opened, str)
    sid = json.loads(opened[1:])["sid"]
    assert ws.accept_headers == [
        ("Set-Cookie", f"sticky={sid}; Path=/; HttpOnly; SameSite=Strict"),
        ("X-Node", "a"),
    ]


async def test_no_cors_headers_by_default() -> None:
    eng = EngineServer()
    response = await call(eng, request("GET", Q, headers={"origin": "https://a.example"}))
    assert not any(name.startswith("Access-Control") for name, _ in response.headers)


async def test_write_buffer_overflow_closes_a_slow_client() -> None:
    eng = EngineServer(max_write_buffer_size=100)
    rec = Recorder(eng)
    await open_polling(eng)
    for _ in range(20):
        rec.sockets[0].send("x" * 10)
    assert rec.closes == [("transport error", "write buffer overflow")]


async def test_listener_errors_are_contained(caplog: pytest.LogCaptureFixture) -> None:
    eng = EngineServer()

    @eng.on("connection")
    def on_connection(socket: EngineSocket) -> None:
        socket.on("message", lambda data: 1 / 0)

    sid, _ = await open_polling(eng)
    with caplog.at_level(logging.ERROR, logger="aiosio.engine"):
        post = await call(eng, request("POST", f"{Q}&sid={sid}", b"4boom"))
    assert post.status == 200
    assert "ZeroDivisionError" in caplog.text
    assert sid in eng.clients


async def test_server_close_discards_every_session() -> None:
    eng = EngineServer()
    rec = Recorder(eng)
    for _ in range(3):
        await open_polling(eng)
    await eng.close()
    assert eng.clients == {}
    assert rec.closes == [("forced close", None)] * 3


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="transports"):
        EngineServer(transports=["carrier-pigeon"])
    with pytest.raises(ValueError, match="positive"):
        EngineServer(ping_interval=0)
    with pytest.raises(ValueError, match="cookie"):
        EngineServer(cookie={"flavour": "choc"})
    with pytest.raises(ValueError, match="event"):
        EngineServer().on("nope", print)


async def test_writable_follows_the_transport() -> None:
    eng = EngineServer()
    rec = Recorder(eng)
    sid, _ = await open_polling(eng)
    socket = rec.sockets[0]
    assert not socket.writable  # no GET is waiting
    poll = Responder()
    eng.handle_request(request("GET", f"{Q}&sid={sid}"), poll)
    assert socket.writable
    socket.close()
    assert not socket.writable


@pytest.mark.parametrize(
    "query",
    [
        *("", "a", "a=", "=b", "a=1&a=2", "EIO=4&transport=polling&t=Pq1&sid=ab-_", "a&&b=2"),
        *("x=1=2", "k=%41+b", "a=1;b=2", "&", "é=ü", "sid=a%2Bb&t=1"),
    ],
)
def test_request_query_matches_parse_qsl(query: str) -> None:
    expected: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        expected.setdefault(key, value)
    assert Request("GET", "/engine.io/", query).query == expected
