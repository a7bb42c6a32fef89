"""WebTransport sessions from a bare aioquic client: the handshake, the upgrade, and bad input."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest

from aiosio.engine.server import EngineServer
from aiosio.server import Server
from aiosio.webtransport import serve_webtransport
from tests.webtransport.conftest import Certificate, WebTransportApp, wait_until
from tests.webtransport.raw_client import closed, next_message, raw_client

pytestmark = pytest.mark.timeout(30)


async def test_handshake_ping_and_socketio_connect(wt_app: WebTransportApp) -> None:
    async with raw_client(wt_app.wt_port) as client:
        session = await client.open_session()
        assert await session.status == 200
        client.open_stream(session)
        client.send(session, "0")
        opened = await next_message(session)
        assert isinstance(opened, str)
        assert opened[0] == "0"
        handshake = json.loads(opened[1:])
        assert handshake["upgrades"] == []
        assert handshake["maxPayload"] == 1_000_000
        engine_socket = wt_app.io.engine.clients[handshake["sid"]]
        assert engine_socket.transport == "webtransport"
        # Socket.IO on top: CONNECT, then an event with an ack and a binary attachment
        client.send(session, "40")
        connected = await next_message(session)
        assert isinstance(connected, str)
        assert connected.startswith("40{")
        socket = await wt_app.next_socket()
        client.send(session, '451-1["echo",{"_placeholder":true,"num":0}]', b"\x01\x02")
        assert await wt_app.next_event() == ("echo", [b"\x01\x02"])
        assert await next_message(session) == '461-1[[{"_placeholder":true,"num":0}]]'
        assert await next_message(session) == b"\x01\x02"
        # the client leaves as a browser does: the session's close capsule
        client.close_session(session)
        assert await wt_app.next_event() == ("disconnect", "transport close")
        assert socket.disconnected


async def test_upgrade_from_polling(wt_app: WebTransportApp) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{wt_app.url}/socket.io/?EIO=4&transport=polling")
    handshake = json.loads(response.text[1:])
    assert handshake["upgrades"] == ["websocket", "webtransport"]
    sid = handshake["sid"]
    async with raw_client(wt_app.wt_port) as client:
        session = await client.open_session()
        client.open_stream(session)
        client.send(session, '0{"sid":"' + sid + '"}', "2probe")
        assert await next_message(session) == "3probe"
        client.send(session, "5")
        engine_socket = wt_app.io.engine.clients[sid]
        await wait_until(lambda: engine_socket.transport == "webtransport")
        assert engine_socket.upgraded
        # a second upgrade of the same session is refused
        again = await client.open_session()
        client.open_stream(again)
        client.send(again, '0{"sid":"' + sid + '"}')
        code, reason = await closed(again)
        assert (code, reason) == (400, error(3, "Bad request"))


def error(code: int, message: str) -> str:
    """The close reason of a refused session: the JSON error a polling request would get."""
    return json.dumps({"code": code, "message": message}, separators=(",", ":"))


async def refused(
    wt_app: WebTransportApp, *first: str | bytes, origin: str | None = None
) -> tuple[int, str]:
    """Open a session, send ``first``; the (code, reason) the server closes it with."""
    async with raw_client(wt_app.wt_port) as client:
        session = await client.open_session(origin=origin)
        client.open_stream(session)
        client.send(session, *first)
        return await closed(session)


async def test_first_packet_not_open(
    wt_app: WebTransportApp, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, "aiosio.engine"):
        assert await refused(wt_app, "4hello") == (400, error(3, "Bad request"))
        assert await refused(wt_app, b"\x00\x01") == (400, error(3, "Bad request"))
        assert await refused(wt_app, "1") == (400, error(3, "Bad request"))
    assert "INVALID_WEBTRANSPORT_HANDSHAKE" in caplog.text
    assert wt_app.io.engine.clients_count == 0


async def test_unknown_sid(wt_app: WebTransportApp, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, "aiosio.engine"):
        assert await refused(wt_app, '0{"sid":"nope"}') == (400, error(1, "Session ID unknown"))
        assert await refused(wt_app, "0not json") == (400, error(1, "Session ID unknown"))
    assert "UNKNOWN_SID" in caplog.text
    assert "nope" not in caplog.text  # session ids stay out of INFO lines


async def test_transport_not_enabled(certificate: Certificate) -> None:
    engine = EngineServer()  # polling and websocket: WebTransport is off by default
    async with (
        await serve_webtransport(
            engine, port=0, certfile=certificate.certfile, keyfile=certificate.keyfile
        ) as wt,
        raw_client(wt.port) as client,
    ):
        session = await client.open_session("/engine.io/")
        client.open_stream(session)
        client.send(session, "0")
        assert await closed(session) == (400, error(0, "Transport unknown"))
    await engine.close()


async def test_webtransport_is_no_http_transport(wt_app: WebTransportApp) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{wt_app.url}/socket.io/?EIO=4&transport=webtransport")
    assert response.status_code == 400
    assert response.json() == {"code": 0, "message": "Transport unknown"}


@pytest.mark.server_options(cors="https://app.example")
async def test_foreign_origin(wt_app: WebTransportApp) -> None:
    assert await refused(wt_app, "0", origin="https://evil.example") == (403, error(4, "Forbidden"))
    async with raw_client(wt_app.wt_port) as client:
        session = await client.open_session(origin="https://app.example")
        client.open_stream(session)
        client.send(session, "0")
        assert str(await next_message(session)).startswith("0{")


@pytest.mark.server_options(allow_request=lambda request: "no entry")
async def test_allow_request_refuses(wt_app: WebTransportApp) -> None:
    assert await refused(wt_app, "0") == (403, error(4, "no entry"))


async def test_bad_frames_close_the_session(
    wt_app: WebTransportApp, caplog: pytest.LogCaptureFixture
) -> None:
    for bad in (
        b"\x00",  # an empty packet
        b"\x7f" + (2_000_000).to_bytes(8, "big"),  # over max_http_buffer_size
        b"\x02\xff\xfe",  # a text packet that is not UTF-8
    ):
        async with raw_client(wt_app.wt_port) as client:
            session = await client.open_session()
            client.open_stream(session)
            client.send(session, "0", "40")
            assert str(await next_message(session)).startswith("0{")
            assert str(await next_message(session)).startswith("40")
            await wt_app.next_socket()
            with caplog.at_level(logging.INFO, "aiosio.webtransport"):
                client.write(session, bad)
                code, _reason = await closed(session)
            assert code == 400
            assert await wt_app.next_event() == ("disconnect", "transport error")
    assert "webtransport session of 127.0.0.1" in caplog.text
    assert wt_app.io.engine.clients_count == 0


@pytest.mark.webtransport_options(open_timeout=0.3)
async def test_no_open_packet_in_time(
    wt_app: WebTransportApp, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, "aiosio.webtransport"):
        async with raw_client(wt_app.wt_port) as client:
            session = await client.open_session()
            assert await closed(session) == (408, "no open packet in time")
            # a stream with half a frame is no better
            partial = await client.open_session()
            client.open_stream(partial)
            client.write(partial, b"\x05" + b"0")
            assert await closed(partial) == (408, "no open packet in time")
    assert "no Engine.IO open packet in time" in caplog.text


async def test_other_requests_get_404(wt_app: WebTransportApp) -> None:
    async with raw_client(wt_app.wt_port) as client:
        assert await client.request("GET", "/socket.io/") == 404
        assert await client.request("CONNECT", "/elsewhere/", protocol="webtransport") == 404
        # the connection still serves sessions
        session = await client.open_session()
        assert await session.status == 200


async def test_server_close_ends_sessions(wt_app: WebTransportApp) -> None:
    async with raw_client(wt_app.wt_port) as client:
        session = await client.open_session()
        client.open_stream(session)
        client.send(session, "0", "40")
        assert str(await next_message(session)).startswith("0{")
        await wt_app.next_socket()
        await wt_app.io.close()
        assert await wt_app.next_event() == ("disconnect", "server shutting down")
        assert (await closed(session))[0] == 0
        await wt_app.wt.close()
        assert wt_app.wt.connection_count == 0


async def test_serve_webtransport_beside_an_engine(certificate: Certificate) -> None:
    """The host alone, for an EngineServer on any port (port 0 picks one)."""
    engine = EngineServer(transports=["webtransport"])
    opened: list[str] = []
    engine.on("connection", lambda socket: opened.append(socket.transport))
    async with await serve_webtransport(
        engine, port=0, certfile=certificate.certfile, keyfile=certificate.keyfile
    ) as wt:
        assert wt.port > 0
        async with raw_client(wt.port) as client:
            session = await client.open_session("/engine.io/")
            client.open_stream(session)
            client.send(session, "0")
            assert str(await next_message(session)).startswith("0{")
            assert opened == ["webtransport"]
            assert wt.connection_count == 1
            await engine.close()
            assert (await closed(session))[0] == 0


async def test_listen_needs_the_transport(certificate: Certificate) -> None:
    io = Server()
    with pytest.raises(ValueError, match="transports"):
        await io.listen(
            0, webtransport={"certfile": certificate.certfile, "keyfile": certificate.keyfile}
        )
    await io.close()


async def test_upgrade_abandoned_keeps_polling(wt_app: WebTransportApp) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{wt_app.url}/socket.io/?EIO=4&transport=polling")
    sid = json.loads(response.text[1:])["sid"]
    engine_socket = wt_app.io.engine.clients[sid]
    async with raw_client(wt_app.wt_port) as client:
        session = await client.open_session()
        client.open_stream(session)
        client.send(session, '0{"sid":"' + sid + '"}', "2probe")
        assert await next_message(session) == "3probe"
        client.close_session(session)  # gone before the upgrade packet
        await asyncio.sleep(0.1)
        assert engine_socket.transport == "polling"
        assert engine_socket.is_open
        # the session can try again, and this time complete the upgrade
        again = await client.open_session()
        client.open_stream(again)
        client.send(again, '0{"sid":"' + sid + '"}', "2probe")
        assert await next_message(again) == "3probe"
        client.send(again, "5")
        await wait_until(lambda: engine_socket.transport == "webtransport")
