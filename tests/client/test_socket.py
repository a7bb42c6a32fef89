"""The client Socket against the official socket.io server, over every transport setup."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aiosio import Ack, AckTimeoutError, ConnectRefusedError, DisconnectedError
from aiosio.client import Manager, Socket, connect

from .conftest import transport_name, transport_options
from .servers import SioServer, wait_until


async def open_socket(
    sio: SioServer, managers: list[Manager], transport: str, nsp: str = "/", **options: Any
) -> Socket:
    socket_options = {k: options.pop(k) for k in ("auth", "retries", "ack_timeout") if k in options}
    manager = Manager(sio.url, **transport_options(transport), **options)
    managers.append(manager)
    socket = manager.socket(nsp, **socket_options)
    await asyncio.wait_for(socket.connect(), 5)
    return socket


def collector(socket: Socket, event: str) -> list[tuple[Any, ...]]:
    got: list[tuple[Any, ...]] = []
    socket.on(event, lambda *args: got.append(args))
    return got


async def test_connect_emit_ack_binary(
    sio: SioServer, managers: list[Manager], transport: str
) -> None:
    socket = await open_socket(sio, managers, transport, auth={"token": "abc"})
    assert socket.connected
    assert not socket.disconnected
    assert isinstance(socket.id, str)
    connection = (await sio.wait_for("connection"))[0]
    assert connection["id"] == socket.id
    assert connection["auth"] == {"token": "abc"}

    echoed = collector(socket, "echo")
    socket.emit("echo", 1, "two", {"three": [3, None, True]}, [1.5])
    await wait_until(lambda: echoed)
    assert echoed == [(1, "two", {"three": [3, None, True]}, [1.5])]

    assert await socket.emit_with_ack("ack", "one") == "one"
    assert await socket.emit_with_ack("ack", "a", 2) == ("a", 2)
    assert await socket.emit_with_ack("ack") is None

    binary = collector(socket, "binary")
    answer = await socket.emit_with_ack("binary", b"\x00\xff" * 100)
    assert answer == (b"\x00\xff" * 100 + b"\x01\x02\x03", "text")
    await wait_until(lambda: binary)
    assert binary == [({"buf": b"\x00\xff" * 100 + b"\x01\x02\x03", "list": [b"xyz", 7]},)]


async def test_transport_in_use(sio: SioServer, managers: list[Manager], transport: str) -> None:
    socket = await open_socket(sio, managers, transport)
    expected = "polling" if transport == "polling" else "websocket"
    if transport == "upgrade":
        await sio.wait_for("upgrade")
        await wait_until(lambda: [1] if transport_name(socket) == "websocket" else [])
    assert await socket.emit_with_ack("get_transport") == expected
    engine = socket.io.engine
    assert engine is not None
    assert engine.transport_name == expected


async def test_order_of_many_events(
    sio: SioServer, managers: list[Manager], transport: str
) -> None:
    socket = await open_socket(sio, managers, transport)
    items = collector(socket, "item")
    for i in range(50):
        socket.emit("record", i)
    socket.emit("many", 200)
    await wait_until(lambda: items, 200)
    assert [args[0] for args in items] == list(range(200))
    records = await sio.wait_for("record", 50)
    assert [r["args"][0] for r in records] == list(range(50))


async def test_server_ack_answered_by_return_value(
    sio: SioServer, managers: list[Manager], transport: str
) -> None:
    socket = await open_socket(sio, managers, transport)

    @socket.on("question")
    async def question(a: int, b: int) -> int:
        await asyncio.sleep(0.01)
        return a + b

    socket.on("question_many", lambda x: (x, x * 2, "three"))
    socket.on("question_many", lambda x: "ignored: only the first handler answers")
    socket.emit("ask", 2, 3)
    assert (await sio.wait_for("answer"))[0]["answer"] == 5
    socket.emit("ask_many", 4)
    assert (await sio.wait_for("answer", 2))[1]["answer"] == [4, 8, "three"]


async def test_handler_error_is_logged_and_connection_survives(
    sio: SioServer, managers: list[Manager], caplog: pytest.LogCaptureFixture
) -> None:
    socket = await open_socket(sio, managers, "websocket")

    def broken(*args: Any) -> None:
        raise RuntimeError("boom")

    socket.on("echo", broken)
    echoed = collector(socket, "echo")
    socket.emit("echo", 1)
    await wait_until(lambda: echoed)
    logged = [r for r in caplog.records if r.exc_info is not None]
    assert len(logged) == 1
    assert logged[0].name.startswith("aiosio")
    error = logged[0].exc_info[1]  # type: ignore[index]
    assert isinstance(error, RuntimeError)
    assert str(error) == "boom"
    assert socket.connected
    assert await socket.emit_with_ack("ack", 2) == 2


async def test_listeners_once_off_any(sio: SioServer, managers: list[Manager]) -> None:
    socket = await open_socket(sio, managers, "websocket")
    once: list[Any] = []
    every: list[Any] = []
    anything: list[tuple[Any, ...]] = []
    outgoing: list[tuple[Any, ...]] = []
    socket.once("echo", lambda x: once.append(x))
    handler = socket.on("echo", lambda x: every.append(x))
    socket.on_any(lambda *args: anything.append(("second", *args)))
    socket.prepend_any(lambda *args: anything.append(("first", *args)))
    socket.on_any_outgoing(lambda *args: outgoing.append(args))
    socket.emit("echo", 1)
    socket.emit("echo", 2)
    await wait_until(lambda: every, 2)
    assert once == [1]
    assert every == [1, 2]
    assert anything == [
        ("first", "echo", 1),
        ("second", "echo", 1),
        ("first", "echo", 2),
        ("second", "echo", 2),
    ]
    assert outgoing == [("echo", 1), ("echo", 2)]
    socket.off("echo", handler)
    socket.off_any()
    assert socket.listeners("echo") == []
    assert socket.listeners_any() == []
    socket.emit("echo", 3)
    assert await socket.emit_with_ack("ack", "sync") == "sync"
    assert every == [1, 2]
    assert len(anything) == 4


async def test_reserved_events_cannot_be_emitted(sio: SioServer, managers: list[Manager]) -> None:
    socket = await open_socket(sio, managers, "websocket")
    for name in ("connect", "connect_error", "disconnect", "disconnecting"):
        with pytest.raises(ValueError, match="reserved"):
            socket.emit(name)


async def test_ack_timeout(sio: SioServer, managers: list[Manager], transport: str) -> None:
    socket = await open_socket(sio, managers, transport)
    with pytest.raises(AckTimeoutError):
        await socket.timeout(0.1).emit_with_ack("no_ack")
    assert socket.connected
    assert await socket.timeout(2).emit_with_ack("ack", 1) == 1


async def test_ack_timeout_option(sio: SioServer, managers: list[Manager]) -> None:
    socket = await open_socket(sio, managers, "websocket", ack_timeout=0.1)
    with pytest.raises(AckTimeoutError):
        await socket.emit_with_ack("no_ack")


async def test_emit_while_disconnected_is_buffered_in_order(
    sio: SioServer, managers: list[Manager], transport: str
) -> None:
    manager = Manager(sio.url, **transport_options(transport))
    managers.append(manager)
    socket = manager.socket("/")
    for i in range(5):
        socket.emit("record", i)
    pending = asyncio.ensure_future(socket.emit_with_ack("ack", "buffered"))
    socket.volatile.emit("record", "volatile")
    await asyncio.wait_for(socket.connect(), 5)
    assert await asyncio.wait_for(pending, 5) == "buffered"
    records = await sio.wait_for("record", 5)
    # A fence: anything stray (the volatile, a duplicate) would reach the server before this.
    socket.emit("record", "fence")
    await sio.wait_for("record", 6)
    assert [r["args"][0] for r in sio.of("record")] == [0, 1, 2, 3, 4, "fence"]
    assert records[0]["id"] == socket.id


async def test_volatile_emit_when_connected(sio: SioServer, managers: list[Manager]) -> None:
    socket = await open_socket(sio, managers, "websocket")
    socket.volatile.emit("record", "v")
    await sio.wait_for("record", args=["v"])


async def test_auth_callable_sync_and_async(sio: SioServer, managers: list[Manager]) -> None:
    calls: list[int] = []

    async def auth() -> dict[str, Any]:
        calls.append(1)
        await asyncio.sleep(0)
        return {"token": "t", "n": len(calls)}

    socket = await open_socket(sio, managers, "polling", auth=auth)
    assert (await sio.wait_for("connection"))[0]["auth"] == {"token": "t", "n": 1}
    other = await open_socket(sio, managers, "websocket", nsp="/admin", auth=lambda: {"k": 1})
    assert other.connected
    assert socket.connected
    assert (await sio.wait_for("connection", nsp="/admin"))[0]["auth"] == {"k": 1}


async def test_query_headers_and_path(
    sio_factory: Any, managers: list[Manager], transport: str
) -> None:
    sio = sio_factory(path="/custom")
    manager = Manager(
        sio.url + "/?from=url",
        path="/custom/",
        query={"q": "1"},
        extra_headers={"X-Test": "yes"},
        **transport_options(transport),
    )
    managers.append(manager)
    socket = manager.socket("/")
    await asyncio.wait_for(socket.connect(), 5)
    connection = (await sio.wait_for("connection"))[0]
    assert connection["query"]["q"] == "1"
    assert connection["query"]["from"] == "url"
    assert connection["header"] == "yes"


async def test_connect_refused_by_middleware(
    sio: SioServer, managers: list[Manager], transport: str
) -> None:
    manager = Manager(sio.url, reconnection_delay=0.02, **transport_options(transport))
    managers.append(manager)
    socket = manager.socket("/", auth={"token": "bad"})
    errors: list[BaseException] = []
    socket.on("connect_error", errors.append)
    with pytest.raises(ConnectRefusedError) as info:
        await asyncio.wait_for(socket.connect(), 5)
    assert info.value.message == "refused"
    assert info.value.data == {"reason": "bad token"}
    assert errors == [info.value]
    assert not socket.active
    assert not socket.connected
    await asyncio.sleep(0.2)
    # No reconnection storm: one handshake, one middleware run.
    assert len(sio.of("handshake")) == 1
    assert len(sio.of("middleware")) == 1
    assert manager.ready_state == "closed"


async def test_multiplexing_one_connection(sio: SioServer) -> None:
    main = await connect(sio.url, transports=["websocket"])
    admin = await connect(sio.url + "/admin", transports=["websocket"])
    other = await connect(sio.url, "/other", transports=["websocket"])
    try:
        assert main.io is admin.io is other.io
        assert len(sio.of("handshake")) == 1
        assert {c["nsp"] for c in await sio.wait_for("connection", 3)} == {"/", "/admin", "/other"}
        assert await admin.emit_with_ack("ack", "a") == "a"
        assert await other.emit_with_ack("ack", "o") == "o"
        # The same namespace again gets a connection of its own, as in the reference.
        again = await connect(sio.url, transports=["websocket"])
        assert again.io is not main.io
        forced = await connect(sio.url, "/admin", force_new=True, transports=["websocket"])
        assert forced.io is not main.io
        alone = await connect(sio.url, "/other", multiplex=False, transports=["websocket"])
        assert alone.io is not main.io
        await alone.disconnect()
        assert len(await sio.wait_for("handshake", 4)) == 4
        await again.disconnect()
        await forced.disconnect()
        # Leaving one namespace keeps the shared connection for the others.
        await admin.disconnect()
        assert main.connected
        assert other.connected
        await sio.wait_for("disconnect", nsp="/admin", reason="client namespace disconnect")
        assert await main.emit_with_ack("ack", 1) == 1
    finally:
        await main.io.close()


async def test_client_disconnect(sio: SioServer, managers: list[Manager], transport: str) -> None:
    socket = await open_socket(sio, managers, transport, reconnection_delay=0.02)
    reasons: list[str] = []
    details: list[tuple[str, Any]] = []
    socket.on("disconnect", reasons.append)
    socket.on("disconnect", lambda reason, description: details.append((reason, description)))
    pending = asyncio.ensure_future(socket.emit_with_ack("no_ack"))
    await asyncio.sleep(0.05)
    await asyncio.wait_for(socket.disconnect(), 5)
    assert reasons == ["io client disconnect"]
    assert details == [("io client disconnect", None)]
    assert not socket.connected
    assert socket.id is None
    with pytest.raises(DisconnectedError):
        await pending
    await sio.wait_for("disconnect", reason="client namespace disconnect")
    await asyncio.sleep(0.1)
    assert len(sio.of("handshake")) == 1
    assert socket.io.engine is None


async def test_server_disconnect_no_reconnection(
    sio: SioServer, managers: list[Manager], transport: str
) -> None:
    socket = await open_socket(sio, managers, transport, reconnection_delay=0.02)
    reasons: list[str] = []
    socket.on("disconnect", reasons.append)
    socket.emit("server_disconnect")
    await wait_until(lambda: reasons)
    assert reasons == ["io server disconnect"]
    assert not socket.active
    await asyncio.sleep(0.2)
    assert len(sio.of("handshake")) == 1
    # A new explicit connect works.
    await asyncio.wait_for(socket.connect(), 5)
    assert socket.connected


async def test_refused_namespace_leaves_others_connected(
    sio: SioServer, managers: list[Manager]
) -> None:
    main = await open_socket(sio, managers, "websocket")
    forbidden = main.io.socket("/forbidden")
    with pytest.raises(ConnectRefusedError):
        await asyncio.wait_for(forbidden.connect(), 5)
    assert main.connected
    assert await main.emit_with_ack("ack", 1) == 1


async def test_offline_buffer_is_bounded_when_asked() -> None:
    from aiosio.client import Manager
    from aiosio.exceptions import DisconnectedError

    manager = Manager("http://127.0.0.1:9", reconnection=False)
    socket = manager.socket("/", max_buffered=2)
    socket.emit("a")
    socket.emit("b")
    with pytest.raises(DisconnectedError, match="2 events are already buffered"):
        socket.emit("c")
    socket.volatile.emit("dropped, not buffered")
    queued = manager.socket("/queued", retries=3, max_buffered=1)
    queued.emit("x")
    with pytest.raises(DisconnectedError, match="1 events already wait"):
        queued.emit("y")
    with pytest.raises(ValueError, match="max_buffered"):
        manager.socket("/bad", max_buffered=-1)


async def test_a_catch_all_listener_answers_the_servers_acknowledgement(
    sio: SioServer, managers: list[Manager]
) -> None:
    socket = await open_socket(sio, managers, "websocket")

    @socket.on_any
    async def gateway(event: str, *args: Any, ack: Ack | None = None) -> None:
        await asyncio.sleep(0.01)
        if ack is not None:
            ack({"event": event, "sum": sum(args)})

    socket.emit("ask", 2, 3)
    assert (await sio.wait_for("answer"))[0]["answer"] == {"event": "question", "sum": 5}
