"""The Socket.IO server driven frame by frame through the engine seam (exact wire format, no sockets)."""

from __future__ import annotations

import asyncio
import io as _io
import json
import logging
import re
from typing import Any

import pytest

from aiosio.adapters import InMemoryAdapter
from aiosio.exceptions import AckTimeoutError, ConnectRefusedError, DisconnectedError
from aiosio.server import Server, Socket

from .wire import WireClient, packet


def make_server(**options: Any) -> Server:
    options.setdefault("ping_interval", 5.0)
    return Server(**options)


async def client(io: Server, nsp: str = "/", auth: dict[str, Any] | None = None) -> WireClient:
    c = await WireClient(io).open()
    await c.connect(nsp, auth)
    return c


def adapter_rooms(io: Server) -> dict[str, set[str]]:
    adapter = io.sockets.adapter
    assert isinstance(adapter, InMemoryAdapter)
    return adapter.rooms


def connected(io: Server, nsp: str = "/") -> list[Socket]:
    sockets: list[Socket] = []
    io.of(nsp).on("connection", sockets.append)
    return sockets


async def test_connect_reply_handshake_and_auth() -> None:
    io = make_server()
    sockets = connected(io)
    c = await WireClient(io).open()
    reply = await c.connect("/", {"token": "abc"})
    assert list(reply) == ["sid"]
    socket = sockets[0]
    assert reply["sid"] == socket.id
    assert socket.id != c.sid
    assert len(socket.id) == 20
    assert socket.connected
    assert not socket.disconnected
    assert not socket.recovered
    hs = socket.handshake
    assert hs.auth == {"token": "abc"}
    assert hs.address == "127.0.0.1"
    assert hs.xdomain is True
    assert hs.secure is False
    assert hs.headers["x-test"] == "1"
    assert hs.query["transport"] == "websocket"
    assert hs.url.startswith("/socket.io/?EIO=4")
    assert hs.issued > 1_600_000_000_000
    assert socket.rooms == {socket.id}
    assert socket.conn.id == c.sid


async def test_connect_alias_and_decorator_forms() -> None:
    io = make_server()
    seen: list[str] = []

    @io.on("connect")
    def on_connect(socket: Socket) -> None:
        seen.append("connect")

    @io.on("connection")
    async def on_connection(socket: Socket) -> None:
        seen.append("connection")
        socket.emit("ready")

    c = await client(io)
    assert await c.recv() == '2["ready"]'  # the coroutine handler ran (in its own task)
    assert seen == ["connect", "connection"]


async def test_middleware_refusal_is_a_connect_error_with_message_and_data() -> None:
    io = make_server()
    order: list[str] = []

    @io.use
    async def first(socket: Socket) -> None:
        order.append("first")
        await asyncio.sleep(0)

    @io.use
    def second(socket: Socket) -> None:
        order.append("second")
        raise ConnectRefusedError("not authorized", {"code": 401})

    c = await WireClient(io).open()
    c.send("0")
    assert await c.recv() == '4{"message":"not authorized","data":{"code":401}}'
    assert order == ["first", "second"]
    assert io.sockets.sockets == {}
    # a plain exception gives the message only
    io.sockets._fns.clear()
    io.use(lambda socket: (_ for _ in ()).throw(RuntimeError("boom")))
    c.send("0")
    assert await c.recv() == '4{"message":"boom"}'


async def test_unknown_namespace_is_refused_exactly() -> None:
    io = make_server()
    c = await WireClient(io).open()
    c.send("0/nope,")
    assert await c.recv() == '4/nope,{"message":"Invalid namespace"}'


async def test_several_namespaces_over_one_connection() -> None:
    io = make_server()
    main = connected(io)
    admin = connected(io, "/admin")
    c = await WireClient(io).open()
    await c.connect("/")
    reply = await c.connect("/admin", {"role": "admin"})
    assert reply["sid"] == admin[0].id != main[0].id
    assert admin[0].handshake.auth == {"role": "admin"}
    got: list[Any] = []
    admin[0].on("ping", lambda *args: got.append(args))
    c.send('2/admin,["ping",1]')
    await asyncio.sleep(0)
    assert got == [(1,)]
    main[0].emit("hello", "main")
    admin[0].emit("hello", "admin")
    assert await c.recv() == '2["hello","main"]'
    assert await c.recv() == '2/admin,["hello","admin"]'
    # leaving one namespace keeps the other
    c.send("1/admin,")
    await asyncio.sleep(0)
    assert not admin[0].connected
    assert main[0].connected
    assert "/admin" not in main[0]._conn.nsps


async def test_dynamic_namespaces_regex_and_async_predicate() -> None:
    io = make_server()
    created: list[str] = []
    io.on("new_namespace", lambda nsp: created.append(nsp.name))
    by_regex: list[Socket] = []
    parent = io.of(re.compile(r"^/room-\d+$"))
    parent.on("connection", by_regex.append)

    async def allow(name: str, auth: dict[str, Any]) -> bool:
        await asyncio.sleep(0)
        return name.startswith("/team-") and auth.get("ok") is True

    by_fn: list[Socket] = []
    io.of(allow, by_fn.append)

    c = await WireClient(io).open()
    await c.connect("/room-12")
    assert by_regex[0].nsp.name == "/room-12"
    await c.connect("/team-a", {"ok": True})
    assert by_fn[0].nsp.name == "/team-a"
    c.send('0/team-b,{"ok":false}')
    assert await c.recv() == '4/team-b,{"message":"Invalid namespace"}'
    assert created == ["/room-12", "/team-a"]
    # emitting on the parent reaches the children
    parent.emit("tick", 1)
    assert await c.recv() == '2/room-12,["tick",1]'


async def test_cleanup_empty_child_namespaces() -> None:
    io = make_server(cleanup_empty_child_namespaces=True)
    io.of(re.compile(r"^/dyn"))
    c = await WireClient(io).open()
    await c.connect("/dyn1")
    assert "/dyn1" in io.namespaces
    c.send("1/dyn1,")
    await asyncio.sleep(0)
    assert "/dyn1" not in io.namespaces


async def test_handler_return_value_is_the_ack() -> None:
    io = make_server()
    sockets = connected(io)
    c = await client(io)
    s = sockets[0]
    s.on("one", lambda x: x * 2)
    s.on("many", lambda: ("a", 1))
    s.on("none", lambda: None)

    @s.on("slow")
    async def slow(x: int) -> dict[str, int]:
        await asyncio.sleep(0.01)
        return {"x": x}

    c.send('2["one",21]')
    c.send('21["one",21]')
    c.send('22["many"]')
    c.send('23["none"]')
    c.send('24["slow",5]')
    assert await c.recv() == "31[42]"
    assert await c.recv() == '32["a",1]'
    assert await c.recv() == "33[]"
    assert await c.recv() == '34[{"x":5}]'


async def test_handler_errors_are_logged_and_the_connection_lives(
    caplog: pytest.LogCaptureFixture,
) -> None:
    io = make_server()
    sockets = connected(io)
    c = await client(io)

    def bad() -> None:
        raise RuntimeError("handler failure")

    sockets[0].on("bad", bad)
    sockets[0].on("good", lambda: "fine")
    with caplog.at_level(logging.ERROR, logger="aiosio.server"):
        c.send('21["bad"]')
        c.send('22["good"]')
        assert await c.recv() == '32["fine"]'
    assert "handler failure" in caplog.text
    assert sockets[0].connected


async def test_on_any_once_off_and_outgoing_listeners() -> None:
    io = make_server()
    sockets = connected(io)
    c = await client(io)
    s = sockets[0]
    seen: list[Any] = []
    s.on_any(lambda *a: seen.append(("any", *a)))
    s.prepend_any(lambda *a: seen.append(("first", a[0])))
    s.once("x", lambda v: seen.append(("once", v)))
    handler = s.on("y", lambda: seen.append("y"))
    s.off("y", handler)
    out: list[Any] = []
    s.on_any_outgoing(lambda *a: out.append(a))
    c.send('2["x",1]')
    c.send('2["x",2]')
    c.send('2["y"]')
    await asyncio.sleep(0)
    assert seen == [
        ("first", "x"),
        ("any", "x", 1),
        ("once", 1),
        ("first", "x"),
        ("any", "x", 2),
        ("first", "y"),
        ("any", "y"),
    ]
    s.emit("out", 1)
    io.emit("all", 2)
    assert out == [("out", 1), ("all", 2)]
    s.off_any()
    s.off_any_outgoing()
    assert s.listeners_any() == []
    assert s.listeners_any_outgoing() == []


async def test_socket_listener_registry() -> None:
    io = make_server()
    sockets = connected(io)
    c = await client(io)
    s = sockets[0]
    assert not hasattr(s, "__dict__")
    seen: list[Any] = []

    def once(value: str) -> None:
        seen.append(value)

    s.once(7, once)  # type: ignore[call-overload]  # the wire allows numeric event names
    assert s.listeners(7) == [once]  # type: ignore[arg-type]
    c.send('2[7,"a"]')
    c.send('2[7,"b"]')
    await asyncio.sleep(0)
    assert seen == ["a"]
    assert s.listeners(7) == []  # type: ignore[arg-type]


async def test_socket_middleware_can_change_and_reject_events() -> None:
    io = make_server()
    sockets = connected(io)
    c = await client(io)
    s = sockets[0]
    errors: list[BaseException] = []
    got: list[Any] = []

    @s.use
    async def check(event: list[Any]) -> None:
        if event[0] == "forbidden":
            raise PermissionError("unauthorized event")
        event.append("tagged")

    s.on("error", errors.append)
    arrived = asyncio.Event()

    def ok(*args: Any) -> None:
        got.append(args)
        arrived.set()

    s.on("ok", ok)
    s.on("forbidden", lambda *a: got.append(("forbidden", a)))
    c.send('2["forbidden"]')
    c.send('2["ok",1]')
    # "ok" is the fence: a "forbidden" that got through would have been handled first.
    async with asyncio.timeout(5):
        await arrived.wait()
    assert got == [(1, "tagged")]
    assert [str(e) for e in errors] == ["unauthorized event"]


async def test_reserved_event_names_cannot_be_emitted() -> None:
    io = make_server()
    sockets = connected(io)
    await client(io)
    for name in ("connect", "disconnect", "disconnecting", "connect_error", "newListener"):
        with pytest.raises(ValueError, match="reserved"):
            sockets[0].emit(name)
        with pytest.raises(ValueError, match="reserved"):
            io.emit(name)


async def test_binary_both_ways_with_nested_attachments() -> None:
    io = make_server()
    sockets = connected(io)
    c = await client(io)
    got: list[Any] = []

    def upload(meta: Any, blob: bytes) -> int:
        got.append((meta, blob))
        return len(blob)

    sockets[0].on("upload", upload)
    c.send(
        '52-2["upload",{"name":"a","parts":[{"_placeholder":true,"num":0}]},'
        '{"_placeholder":true,"num":1}]'
    )
    c.send(b"\x01\x02")
    c.send(b"\x03\x04\x05")
    assert await c.recv() == "32[3]"
    assert got == [({"name": "a", "parts": [b"\x01\x02"]}, b"\x03\x04\x05")]
    sockets[0].emit("file", {"nested": [bytearray(b"ab"), memoryview(b"cd")]}, _io.BytesIO(b"ef"))
    head = await c.recv()
    assert head == (
        '53-["file",{"nested":[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]},'
        '{"_placeholder":true,"num":2}]'
    )
    assert [await c.recv() for _ in range(3)] == [b"ab", b"cd", b"ef"]


async def test_rooms_to_except_and_socket_broadcast() -> None:
    io = make_server()
    sockets = connected(io)
    a, b, c = [await client(io) for _ in range(3)]
    sa, sb, sc = sockets
    sa.join("red")
    sb.join(["red", "blue"])
    sc.join("blue")
    assert sb.rooms == {sb.id, "red", "blue"}
    io.to("red").emit("m", 1)  # a, b
    io.to("red").to("blue").except_("blue").emit("m", 2)  # a
    io.except_(sa.id).emit("m", 3)  # b, c
    sa.to("red").emit("m", 4)  # b (not a itself)
    sa.broadcast.emit("m", 5)  # b, c
    io.in_("blue").emit("m", 6)  # b, c
    sb.in_("red").emit("m", 7)  # a
    sb.except_("red").emit("m", 8)  # c
    sc.local.emit("m", 9)  # a, b
    io.local.to("blue").emit("m", 10)  # b, c
    received = {name: [] for name in "abc"}  # type: dict[str, list[Any]]
    for name, wire in (("a", a), ("b", b), ("c", c)):
        sockets[{"a": 0, "b": 1, "c": 2}[name]].emit("end")
        while True:
            _, data = packet(str(await wire.recv()))
            if data[0] == "end":
                break
            received[name].append(data[1])
    assert received == {
        "a": [1, 2, 7, 9],
        "b": [1, 3, 4, 5, 6, 9, 10],
        "c": [3, 5, 6, 8, 10],
    }
    sb.leave("red")
    assert sb.rooms == {sb.id, "blue"}
    assert adapter_rooms(io)["red"] == {sa.id}


async def test_sockets_join_leave_fetch_and_disconnect_sockets() -> None:
    io = make_server()
    sockets = connected(io)
    wires = [await client(io) for _ in range(3)]
    io.except_(sockets[2].id).sockets_join(["x", "y"])
    assert {s.id for s in await io.in_("x").fetch_sockets()} == {sockets[0].id, sockets[1].id}
    io.in_("x").sockets_leave("y")
    assert await io.in_("y").fetch_sockets() == []
    fetched = await io.fetch_sockets()
    assert {s.id for s in fetched} == {s.id for s in sockets}
    assert fetched[0].handshake.address == "127.0.0.1"
    reasons: list[str] = []
    for s in sockets:
        s.on("disconnect", reasons.append)
    io.in_("x").disconnect_sockets()
    assert reasons == ["server namespace disconnect"] * 2
    for wire in wires[:2]:
        assert await wire.recv() == "1"
    io.disconnect_sockets(close=True)
    assert reasons[-1] == "server namespace disconnect"
    assert await wires[2].recv() == "1"
    assert await wires[2].closed() is not None


async def test_broadcast_ack_collects_every_answer() -> None:
    io = make_server()
    sockets = connected(io)
    wires = [await client(io) for _ in range(3)]
    future = io.timeout(2).emit_with_ack("question", 1)
    for i, wire in enumerate(wires):
        head, data = packet(str(await wire.recv()))
        assert data == ["question", 1]
        ack_id = head[1:]
        wire.send(f'3{ack_id}["answer-{i}"]')
    assert sorted(await future) == ["answer-0", "answer-1", "answer-2"]
    assert sockets[0]._acks == {}


async def test_broadcast_ack_timeout_gives_partial_responses() -> None:
    io = make_server()
    sockets = connected(io)
    wires = [await client(io) for _ in range(3)]
    future = io.timeout(0.5).emit_with_ack("question")  # room for the one answer under load
    head, _ = packet(str(await wires[0].recv()))
    wires[0].send(f"3{head[1:]}[7]")
    with pytest.raises(AckTimeoutError) as info:
        await future
    assert info.value.responses == [7]
    assert all(s._acks == {} for s in sockets)


async def test_broadcast_ack_without_recipients_resolves_at_once() -> None:
    io = make_server()
    assert await io.to("nobody").emit_with_ack("x") == []


async def test_socket_emit_with_ack_and_timeout() -> None:
    io = make_server()
    sockets = connected(io)
    c = await client(io)
    s = sockets[0]
    future = s.emit_with_ack("q", 1)
    head, data = packet(str(await c.recv()))
    assert data == ["q", 1]
    c.send(f'3{head[1:]}["a","b"]')
    assert await future == ("a", "b")
    with pytest.raises(AckTimeoutError):
        await s.timeout(0.02).emit_with_ack("q")
    assert s._acks == {}
    pending = s.emit_with_ack("never")
    s.disconnect()
    with pytest.raises(DisconnectedError):
        await pending


async def test_remote_socket_style_single_response() -> None:
    io = make_server()
    sockets = connected(io)
    c = await client(io)
    from aiosio.server import RemoteSocket

    remote = RemoteSocket(io.sockets.adapter, sockets[0])
    future = remote.timeout(1).emit_with_ack("ping")
    head, _ = packet(str(await c.recv()))
    c.send(f'3{head[1:]}["pong"]')
    assert await future == "pong"
    remote.join("r")
    assert "r" in sockets[0].rooms


async def test_disconnect_reasons_server_and_client_side() -> None:
    io = make_server()
    sockets = connected(io)
    c1 = await client(io)
    c2 = await client(io)
    events: list[tuple[str, str, Any]] = []
    for s in sockets:
        s.on("disconnecting", lambda reason, desc, s=s: events.append(("ing", reason, s.rooms)))
        s.on("disconnect", lambda reason: events.append(("ed", reason, None)))
        s.join("room")
    c1.send("1")
    await asyncio.sleep(0)
    sockets[1].disconnect()
    assert await c2.recv() == "1"
    assert events == [
        ("ing", "client namespace disconnect", {sockets[0].id, "room"}),
        ("ed", "client namespace disconnect", None),
        ("ing", "server namespace disconnect", {sockets[1].id, "room"}),
        ("ed", "server namespace disconnect", None),
    ]
    assert "room" not in adapter_rooms(io)
    assert sockets[0].rooms == set()


async def test_transport_close_reason() -> None:
    io = make_server()
    sockets = connected(io)
    c = await client(io)
    reasons: list[str] = []
    sockets[0].on("disconnect", reasons.append)
    c.drop()
    await asyncio.sleep(0)
    assert reasons == ["transport close"]
    assert io.sockets.sockets == {}


@pytest.mark.parametrize(
    "frame",
    [
        "2garbage",
        "2[]",
        '2["a"',
        '29007199254740992["a"]',  # an ack id past 2**53 - 1
        '2["disconnect"]',
        "9",
        '2/admin,["x"]',  # a namespace this client did not join
        '51-["a",{"_placeholder":true,"num":0}]',  # followed by text instead of the attachment
    ],
)
async def test_parse_errors_close_the_connection(
    frame: str, caplog: pytest.LogCaptureFixture
) -> None:
    io = make_server()
    sockets = connected(io)
    c = await client(io)
    reasons: list[str] = []
    sockets[0].on("disconnect", reasons.append)
    with caplog.at_level(logging.DEBUG, logger="aiosio.server"):
        c.send(frame)
        if frame.startswith("51-"):
            c.send("2[]")
        await c.closed()
    if frame == '2/admin,["x"]':  # well formed, but not allowed in this state
        assert reasons == ["forced server close"]
    else:
        assert reasons == ["parse error"]
        assert "invalid packet" in caplog.text


async def test_attachments_that_never_arrive_close_the_connection() -> None:
    io = make_server(attachment_timeout=0.05)
    sockets = connected(io)
    c = await client(io)
    reasons: list[str] = []
    sockets[0].on("disconnect", reasons.append)
    c.send('51-["a",{"_placeholder":true,"num":0}]')
    await c.closed()
    assert reasons == ["parse error"]


async def test_connect_timeout_closes_idle_connections() -> None:
    io = make_server(connect_timeout=0.05)
    c = await WireClient(io).open()
    await c.closed()
    # a connection that joins in time stays open
    late = await WireClient(io).open()
    await late.connect()
    await asyncio.sleep(0.1)
    assert late.ws.closed_with is None


async def test_volatile_is_dropped_when_the_client_is_behind() -> None:
    io = make_server()
    sockets = connected(io)
    c = await client(io)
    s = sockets[0]
    c.ws.backlog = 1  # the host still holds bytes for this client: not writable
    assert not s.conn.writable
    s.volatile.emit("dropped")
    io.volatile.emit("dropped too")
    s.emit("not volatile")
    c.ws.backlog = 0
    assert s.conn.writable
    s.volatile.emit("kept")
    assert await c.recv() == '2["not volatile"]'
    assert await c.recv() == '2["kept"]'


async def test_close_disconnects_with_server_shutting_down() -> None:
    io = make_server()
    sockets = connected(io)
    c = await client(io)
    reasons: list[str] = []
    sockets[0].on("disconnect", reasons.append)
    await io.close()
    assert reasons == ["server shutting down"]
    assert await c.closed() is not None


async def test_connection_state_recovery_over_the_wire() -> None:
    io = make_server(connection_state_recovery={"max_disconnection_duration": 5})
    sockets = connected(io)
    calls: list[str] = []
    io.use(lambda socket: calls.append(socket.id))
    c = await WireClient(io).open()
    reply = await c.connect()
    assert set(reply) == {"sid", "pid"}
    s = sockets[0]
    s.join("news")
    s.data["name"] = "ann"
    io.to("news").emit("headline", 1)
    _, data = packet(str(await c.recv()))
    assert data[:2] == ["headline", 1]
    assert isinstance(data[2], str)
    offset = data[2]
    c.drop()
    await asyncio.sleep(0)
    io.to("news").emit("headline", 2)
    s.emit("private", 3)  # to a disconnected socket: kept for it all the same
    io.emit("all", 4)
    io.to("other").emit("not for you", 5)
    io.volatile.emit("volatile", 6)
    again = await WireClient(io).open()
    again.send("0" + json.dumps({"pid": reply["pid"], "offset": offset}))
    frames = [packet(str(await again.recv())) for _ in range(4)]
    # the missed packets come first (the client buffers them until it is connected)
    assert [(head, data[:-1]) for head, data in frames[:3]] == [
        ("2", ["headline", 2]),
        ("2", ["private", 3]),
        ("2", ["all", 4]),
    ]
    assert frames[3] == ("0", reply)
    restored = sockets[1]
    assert restored.id == s.id
    assert restored.recovered
    assert restored.rooms == {s.id, "news"}
    assert restored.data == {"name": "ann"}
    assert calls == [s.id]  # the middleware was skipped for the recovered socket
    # a session restores once; an unknown offset gives a fresh session
    third = await WireClient(io).open()
    fresh = await third.connect("/", {"pid": reply["pid"], "offset": frames[2][1][-1]})
    assert fresh["sid"] != reply["sid"]
    assert not sockets[2].recovered


async def test_no_recovery_after_a_namespace_disconnect() -> None:
    io = make_server(connection_state_recovery=True)
    sockets = connected(io)
    c = await WireClient(io).open()
    reply = await c.connect()
    io.emit("x")
    _, data = packet(str(await c.recv()))
    c.send("1")
    await asyncio.sleep(0)
    again = await c.connect("/", {"pid": reply["pid"], "offset": data[-1]})
    assert again["sid"] != reply["sid"]
    assert not sockets[1].recovered


async def test_coroutine_handlers_run_in_their_own_task_from_the_first_line() -> None:
    io = make_server()
    sockets = connected(io)
    c = await client(io)
    tasks: dict[int, list[asyncio.Task[Any] | None]] = {1: [], 2: []}

    @sockets[0].on("q")
    async def q(n: int) -> str:
        tasks[n].append(asyncio.current_task())
        async with asyncio.timeout(1):  # at the very top: needs a task of its own
            async with asyncio.TaskGroup() as group:
                group.create_task(asyncio.sleep(0))
            await asyncio.wait_for(asyncio.sleep(0), 1)
        tasks[n].append(asyncio.current_task())
        return "done"

    c.send('21["q",1]')  # delivered from inside the test's task
    c.send('22["q",2]')
    assert {await c.recv(), await c.recv()} == {'31["done"]', '32["done"]'}
    test_task = asyncio.current_task()
    first, second = tasks[1], tasks[2]
    assert None not in first + second
    assert test_task not in first + second
    assert first[0] is first[1]  # the same task before and after suspending
    assert second[0] is second[1]
    assert first[0] is not second[0]  # one task per handler call
