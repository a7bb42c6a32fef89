"""aiosio.testing: in-process clients see the server exactly as network clients do."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import aiosio
import aiosio.testing
from aiosio import ConnectRefusedError


def chat_server() -> aiosio.Server:
    """A small app: a token middleware, a lobby room, acks both ways, a handler doing real I/O."""
    io = aiosio.Server()

    async def check_token(socket: aiosio.Socket) -> None:
        await asyncio.sleep(0)  # like a token lookup
        if socket.handshake.auth.get("token") == "bad":
            raise ConnectRefusedError("unauthorized", {"hint": "log in again"})

    io.use(check_token)

    @io.on("connection")
    async def on_connection(socket: aiosio.Socket) -> None:
        socket.join("lobby")
        socket.emit(
            "welcome",
            {
                "id": socket.id,
                "auth": socket.handshake.auth,
                "query": socket.handshake.query.get("room"),
                "header": socket.handshake.headers.get("x-team"),
            },
        )

        @socket.on("chat")
        async def chat(text: str) -> str:
            await asyncio.sleep(0.01)
            socket.to("lobby").emit("chat", socket.id, text)
            return "ok"

        @socket.on("ask_client")
        async def ask_client(question: str) -> Any:
            return await socket.timeout(2).emit_with_ack("question", question)

        @socket.on("kick_me")
        def kick_me() -> None:
            socket.disconnect()

        @socket.on("blob")
        def blob(data: bytes) -> bytes:
            return data[::-1]

    return io


def settle(future: asyncio.Future[str]) -> Any:
    """A handler that settles ``future`` with its first argument."""

    def handler(value: str) -> None:
        if not future.done():
            future.set_result(value)

    return handler


async def test_emit_ack_receive_and_handshake() -> None:
    io = chat_server()
    async with aiosio.testing.connect(
        io, auth={"token": "good"}, headers={"X-Team": "blue"}, query={"room": "7"}
    ) as client:
        assert client.connected
        event, welcome = await client.receive()
        assert event == "welcome"
        assert welcome == {
            "id": client.id,
            "auth": {"token": "good"},
            "query": "7",
            "header": "blue",
        }
        assert client.id in io.of("/").sockets
        assert await client.emit_with_ack("chat", "hi") == "ok"
        assert await client.emit_with_ack("blob", b"\x01\x02\x03") == b"\x03\x02\x01"
        with pytest.raises(TimeoutError):
            await client.receive(timeout=0.05)
    await asyncio.sleep(0.01)
    assert not io.of("/").sockets


async def test_rooms_reach_every_other_client() -> None:
    io = chat_server()
    async with aiosio.testing.connect_many(io, 20) as clients:
        for client in clients:
            assert (await client.receive())[0] == "welcome"
        sender = clients[0]
        assert await sender.emit_with_ack("chat", "hello all") == "ok"
        for client in clients[1:]:
            assert await client.receive() == ("chat", sender.id, "hello all")
        assert sender.pending() == []
        assert len(await io.in_("lobby").fetch_sockets()) == 20


async def test_client_handlers_answer_the_servers_acks() -> None:
    io = chat_server()
    async with aiosio.testing.connect(io) as client:

        @client.on("question")
        async def question(text: str) -> str:
            await asyncio.sleep(0)
            return text.upper()

        assert await client.emit_with_ack("ask_client", "why?") == "WHY?"


async def test_refusal_carries_message_and_data() -> None:
    io = chat_server()
    with pytest.raises(ConnectRefusedError) as info:
        async with aiosio.testing.connect(io, auth={"token": "bad"}):
            pass
    assert info.value.message == "unauthorized"
    assert info.value.data == {"hint": "log in again"}


async def test_disconnect_reasons_on_both_sides() -> None:
    io = chat_server()
    reasons: list[str] = []
    io.of("/").on("connection", lambda s: s.on("disconnect", reasons.append))
    async with aiosio.testing.connect(io) as client:
        gone: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        client.on("disconnect", settle(gone))
        client.emit("kick_me")
        assert await asyncio.wait_for(gone, 2) == "io server disconnect"
        assert not client.connected
    assert reasons == ["server namespace disconnect"]
    async with aiosio.testing.connect(io):
        pass
    await asyncio.sleep(0.01)
    assert reasons[1] == "client namespace disconnect"


async def test_server_close_ends_the_session() -> None:
    io = chat_server()
    async with aiosio.testing.connect(io) as client:
        gone: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        client.on("disconnect", settle(gone))
        await io.close()
        assert await asyncio.wait_for(gone, 2) in ("io server disconnect", "transport close")


async def test_namespaces_and_handler_errors_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    io = aiosio.Server()
    admin = io.of("/admin")

    @admin.on("connection")
    def on_admin(socket: aiosio.Socket) -> None:
        socket.on("boom", lambda: 1 / 0)
        socket.on("ping", lambda: "pong")

    async with aiosio.testing.connect(io, "/admin") as client:
        with caplog.at_level(logging.ERROR, logger="aiosio"):
            client.emit("boom")
            assert await client.emit_with_ack("ping") == "pong"  # the connection lives on
        assert any("ZeroDivisionError" in (r.exc_text or "") for r in caplog.records)
    with pytest.raises(ConnectRefusedError) as info:
        async with aiosio.testing.connect(io, "/nowhere"):
            pass
    assert info.value.message == "Invalid namespace"
