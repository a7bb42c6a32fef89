"""User code is ordinary asyncio code: each coroutine handler in its own Task and context, one-at-a-time
mode, and calls from other threads (driven through the engine seam, frame by frame)."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from typing import Any

import pytest

from aiosio._handlers import EAGER_TASKS
from aiosio.server import Server, Socket

from .test_server_wire import client, connected, make_server
from .wire import packet

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


async def test_each_handler_gets_its_own_copy_of_the_context() -> None:
    io = make_server()
    sockets = connected(io)
    c = await client(io)
    seen: list[str] = []

    @sockets[0].on("tag")
    async def tag(value: str) -> str:
        seen.append(request_id.get())  # what an earlier handler set must not show here
        token = request_id.set(value)
        await asyncio.sleep(0.01)  # suspend: the task resumes in its own context
        assert request_id.get() == value
        request_id.reset(token)  # the set / await / reset pattern of tracing libraries
        return value

    c.send('20["tag","a"]')
    assert await c.recv() == '30["a"]'
    c.send('21["tag","b"]')
    assert await c.recv() == '31["b"]'
    assert seen == ["-", "-"]
    assert request_id.get() == "-"  # nothing leaked into the caller either


async def test_plain_and_async_handlers_start_in_packet_order() -> None:
    io = make_server()
    sockets = connected(io)
    c = await client(io)
    started: list[int] = []
    done = asyncio.Event()

    @sockets[0].on("n")
    async def n(i: int) -> None:
        started.append(i)
        await asyncio.sleep(0)
        if i == 49:
            done.set()

    for i in range(50):
        c.send(f'2["n",{i}]')
    async with asyncio.timeout(5):
        await done.wait()
    assert started == list(range(50))


async def test_an_exception_is_logged_with_its_traceback_and_harms_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    io = make_server()
    sockets = connected(io)
    c = await client(io)

    @sockets[0].on("boom")
    async def boom() -> str:
        await asyncio.sleep(0)
        raise KeyError("broken handler")

    @sockets[0].on("ok")
    async def ok() -> str:
        return "fine"

    with caplog.at_level(logging.ERROR, logger="aiosio.server"):
        c.send('21["boom"]')
        c.send('22["ok"]')
        assert await c.recv() == '32["fine"]'  # no ack for the handler that raised
        await asyncio.sleep(0.01)
    records = [r for r in caplog.records if r.getMessage() == "boom raised"]
    assert len(records) == 1
    assert records[0].exc_info is not None
    assert records[0].exc_info[0] is KeyError
    assert sockets[0].connected


async def test_eager_start_keeps_what_a_handler_sends_before_its_own_ack() -> None:
    io = make_server()
    sockets = connected(io)
    c = await client(io)

    @sockets[0].on("q")
    async def q() -> str:
        sockets[0].emit("progress", 1)
        await asyncio.sleep(0)
        sockets[0].emit("progress", 2)
        return "done"

    c.send('27["q"]')
    assert [await c.recv() for _ in range(3)] == [
        '2["progress",1]',
        '2["progress",2]',
        '37["done"]',
    ]
    assert (__import__("sys").version_info >= (3, 12)) == EAGER_TASKS


async def test_async_middlewares_and_disconnect_handlers_run_in_tasks() -> None:
    io = make_server()
    where: dict[str, asyncio.Task[Any] | None] = {}
    gone = asyncio.Event()

    @io.use
    async def middleware(socket: Socket) -> None:
        async with asyncio.timeout(1):  # at the top: needs a task
            where["use"] = asyncio.current_task()
            await asyncio.sleep(0)

    @io.on("connection")
    async def on_connection(socket: Socket) -> None:
        async with asyncio.timeout(1):
            where["connection"] = asyncio.current_task()
            await asyncio.sleep(0)

        async def per_packet(event: list[Any]) -> None:
            async with asyncio.timeout(1):
                where["socket.use"] = asyncio.current_task()
                await asyncio.sleep(0)

        socket.use(per_packet)

        @socket.on("disconnect")
        async def on_disconnect(reason: str) -> None:
            async with asyncio.timeout(1):
                where["disconnect"] = asyncio.current_task()
                await asyncio.sleep(0)
            gone.set()

        @socket.on("ping")
        async def ping() -> str:
            return "pong"

        socket.emit("ready")  # the handlers above are in place

    c = await client(io)
    assert await c.recv() == '2["ready"]'
    c.send('21["ping"]')
    assert await c.recv() == '31["pong"]'
    c.send("1")
    async with asyncio.timeout(2):
        await gone.wait()
    test_task = asyncio.current_task()
    assert set(where) == {"use", "connection", "socket.use", "disconnect"}
    for task in where.values():
        assert task is not None
        assert task is not test_task


async def test_sequential_handlers_finish_one_event_before_the_next() -> None:
    io = make_server(sequential_handlers=True)
    sockets = connected(io)
    c = await client(io)
    log: list[str] = []

    @sockets[0].on("job")
    async def job(name: str, delay: float) -> str:
        log.append(f"start {name}")
        await asyncio.sleep(delay)
        log.append(f"end {name}")
        return name

    @sockets[0].on("quick")
    def quick(name: str) -> str:
        log.append(f"quick {name}")
        return name

    c.send('21["job","a",0.05]')
    c.send('22["quick","b"]')
    c.send('23["job","c",0]')
    assert [await c.recv() for _ in range(3)] == ['31["a"]', '32["b"]', '33["c"]']
    assert log == ["start a", "end a", "quick b", "start c", "end c"]


async def test_concurrent_by_default_the_slow_handler_answers_last() -> None:
    io = make_server()
    sockets = connected(io)
    c = await client(io)

    @sockets[0].on("job")
    async def job(name: str, delay: float) -> str:
        await asyncio.sleep(delay)
        return name

    c.send('21["job","slow",0.2]')
    c.send('22["job","fast",0]')
    assert [await c.recv() for _ in range(2)] == ['32["fast"]', '31["slow"]']


async def test_sequential_mode_bounds_the_queue_of_a_flooding_client(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from aiosio.server.socket import MAX_QUEUED_EVENTS

    io = make_server(sequential_handlers=True)
    sockets = connected(io)
    c = await client(io)
    release = asyncio.Event()

    @sockets[0].on("wait")
    async def wait() -> None:
        await release.wait()

    with caplog.at_level(logging.WARNING, logger="aiosio.server"):
        for _ in range(MAX_QUEUED_EVENTS + 2):
            c.send('2["wait"]')
        assert await c.closed() is not None
    release.set()
    assert any("sequential_handlers" in r.getMessage() for r in caplog.records)
    assert not sockets[0].connected


async def test_emit_join_leave_and_disconnect_from_a_worker_thread() -> None:
    io = make_server()
    sockets = connected(io)
    c = await client(io)
    socket = sockets[0]

    def worker() -> None:
        socket.join("workers")
        for i in range(100):
            socket.emit("tick", i)
        io.to("workers").emit("to-room")
        socket.volatile.emit("flagged")
        socket.leave("workers")
        io.to("workers").emit("nobody")  # the socket left: nothing arrives
        socket.emit("last")

    thread = threading.Thread(target=worker)
    thread.start()
    received = [await c.recv() for _ in range(103)]
    thread.join()
    assert received == [
        *(f'2["tick",{i}]' for i in range(100)),
        '2["to-room"]',
        '2["flagged"]',
        '2["last"]',
    ]
    assert socket.rooms == {socket.id}

    await asyncio.to_thread(socket.disconnect)
    assert await c.recv() == "1"
    assert not socket.connected


async def test_emit_with_ack_from_a_thread_through_run_threadsafe() -> None:
    io = make_server()
    sockets = connected(io)
    c = await client(io)
    socket = sockets[0]

    def worker() -> Any:
        with pytest.raises(RuntimeError, match="run_threadsafe"):
            socket.emit_with_ack("question")
        with pytest.raises(RuntimeError, match="run_threadsafe"):
            io.emit_with_ack("question")
        future = io.run_threadsafe(socket.emit_with_ack, "question", 1)
        return future.result(timeout=5)

    answer = asyncio.create_task(asyncio.to_thread(worker))
    head, data = packet(str(await c.recv()))
    assert data == ["question", 1]
    c.send("3" + head[1:] + '["answer"]')
    assert await answer == "answer"


async def test_run_threadsafe_needs_a_started_server() -> None:
    def build() -> Server:
        return Server()  # created outside any loop: it knows none yet

    io = await asyncio.to_thread(build)
    assert io.loop is None
    with pytest.raises(RuntimeError, match="not started"):
        io.run_threadsafe(print)
    await io.start()
    assert io.loop is asyncio.get_running_loop()
    assert await asyncio.wrap_future(io.run_threadsafe(lambda: 42)) == 42
    await io.close()
