"""Faults against the official server: restarts, stalls, refusals, retries, state recovery."""

from __future__ import annotations

import asyncio
import socket as stdlib_socket
from collections.abc import Callable
from typing import Any

import pytest

from aiosio import AckTimeoutError, ClientConnectionError
from aiosio.client import Manager, Socket

from .conftest import FAST, HEARTBEAT, transport_name, transport_options
from .servers import SioServer, wait_until

QUICK: dict[str, Any] = {
    "reconnection_delay": 0.05,
    "reconnection_delay_max": 0.2,
    "randomization_factor": 0,
}


class Journal:
    """Every manager and socket event, in order, with the loop time it happened."""

    def __init__(self, manager: Manager, socket: Socket | None = None) -> None:
        self.entries: list[tuple[float, str, tuple[Any, ...]]] = []
        for name in (
            "open",
            "error",
            "close",
            "ping",
            "reconnect_attempt",
            "reconnect",
            "reconnect_error",
            "reconnect_failed",
        ):
            manager.on(name, self._recorder("manager." + name))
        if socket is not None:
            for name in ("connect", "connect_error", "disconnect"):
                socket.on(name, self._recorder(name))

    def _recorder(self, name: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            self.entries.append((asyncio.get_running_loop().time(), name, args))

        return record

    def names(self, *, without: tuple[str, ...] = ("manager.ping",)) -> list[str]:
        return [name for _, name, _ in self.entries if name not in without]

    def args(self, name: str) -> list[tuple[Any, ...]]:
        return [args for _, n, args in self.entries if n == name]

    def reasons(self) -> list[str]:
        """The reasons of the socket's disconnect events."""
        return [args[0] for args in self.args("disconnect")]

    def times(self, name: str) -> list[float]:
        return [t for t, n, _ in self.entries if n == name]

    async def wait(self, name: str, count: int = 1, within: float = 5.0) -> None:
        await wait_until(lambda: self.args(name), count, within, name)


async def open_socket(
    sio: SioServer, managers: list[Manager], transport: str, **options: Any
) -> tuple[Socket, Journal]:
    socket_options = {k: options.pop(k) for k in ("auth", "retries", "ack_timeout") if k in options}
    manager = Manager(sio.url, **{**QUICK, **transport_options(transport), **options})
    managers.append(manager)
    socket = manager.socket("/", **socket_options)
    journal = Journal(manager, socket)
    await asyncio.wait_for(socket.connect(), 5)
    return socket, journal


def free_port() -> int:
    with stdlib_socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_restart_reconnects_and_delivers_buffered_emits_once(
    sio: SioServer, managers: list[Manager], transport: str
) -> None:
    socket, journal = await open_socket(sio, managers, transport)
    first_id = socket.id
    if transport == "upgrade":
        # the server dies after the upgrade, not during it (a kill mid-upgrade is another test)
        await wait_until(lambda: [1] if transport_name(socket) == "websocket" else [])
    sio.kill()
    await journal.wait("disconnect")
    reason = journal.reasons()[0]
    assert reason in ("transport close", "transport error")
    assert not socket.connected
    assert socket.active
    for i in range(5):
        socket.emit("record", i)
    await journal.wait("manager.reconnect_error", 2)
    sio.restart()
    await journal.wait("connect", 2)
    assert socket.connected
    assert socket.id != first_id
    records = await sio.wait_for("record", 5)
    # A fence: a duplicate of the buffered emits would reach the server before this.
    socket.emit("record", "fence")
    await sio.wait_for("record", 6)
    assert [r["args"][0] for r in sio.of("record")] == [0, 1, 2, 3, 4, "fence"]
    assert records[0]["id"] == socket.id
    attempts = [args[0] for args in journal.args("manager.reconnect_attempt")]
    assert attempts == list(range(1, len(attempts) + 1))
    assert journal.args("manager.reconnect") == [(attempts[-1],)]
    names = journal.names()
    lost = ["manager.close", "disconnect"]
    if reason == "transport error":
        lost.insert(0, "manager.error")  # the reference reports the error, then the close
    assert names[: 2 + len(lost)] == ["manager.open", "connect", *lost]
    assert names[-3:] == ["manager.open", "manager.reconnect", "connect"]
    assert await socket.emit_with_ack("ack", "after") == "after"


async def test_backoff_delays_between_attempts(sio: SioServer, managers: list[Manager]) -> None:
    draws = iter([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] * 3)
    socket, journal = await open_socket(
        sio,
        managers,
        "websocket",
        reconnection_delay=0.04,
        reconnection_delay_max=0.15,
        randomization_factor=0.5,
        random=lambda: next(draws),
    )
    sio.kill()
    await journal.wait("manager.reconnect_attempt", 5)
    # 40 ms * 2^n with the reference's jitter for draws 0.0, 0.1, 0.2, ... capped at 150 ms:
    # 40, 80 + 4, 160 - 16, 320 + 48 -> 150, 640 - 128 -> 150.
    delays = [0.04, 0.084, 0.144, 0.15, 0.15]
    starts = [journal.times("manager.close")[0], *journal.times("manager.reconnect_error")]
    attempts = journal.times("manager.reconnect_attempt")
    for start, attempt, delay in zip(starts, attempts, delays, strict=False):
        assert attempt - start >= delay - 0.005
    socket.disconnect()


async def test_attempts_exhausted(sio: SioServer, managers: list[Manager]) -> None:
    _socket, journal = await open_socket(sio, managers, "polling", reconnection_attempts=2)
    sio.kill()
    await journal.wait("manager.reconnect_failed")
    transport_error = ["manager.error", "manager.close", "disconnect"]
    failed_attempt = ["manager.error", "connect_error"]
    # As in the reference, the last failure reports reconnect_failed before reconnect_error.
    assert journal.names()[2:] == [
        *transport_error,
        "manager.reconnect_attempt",
        *failed_attempt,
        "manager.reconnect_error",
        "manager.reconnect_attempt",
        *failed_attempt,
        "manager.reconnect_failed",
        "manager.reconnect_error",
    ]
    await asyncio.sleep(0.2)
    assert len(journal.args("manager.reconnect_attempt")) == 2
    assert journal.args("manager.reconnect_failed") == [()]


async def test_connect_gives_up_on_a_dead_server(managers: list[Manager]) -> None:
    manager = Manager(f"http://127.0.0.1:{free_port()}", reconnection_attempts=2, **QUICK)
    managers.append(manager)
    socket = manager.socket("/")
    errors: list[BaseException] = []
    socket.on("connect_error", errors.append)
    with pytest.raises(ClientConnectionError):
        await asyncio.wait_for(socket.connect(), 5)
    assert len(errors) == 3

    manager = Manager(f"http://127.0.0.1:{free_port()}", reconnection=False)
    managers.append(manager)
    with pytest.raises(ClientConnectionError):
        await asyncio.wait_for(manager.socket("/").connect(), 5)


async def test_connect_waits_for_a_server_that_comes_up(
    server_kind: str, managers: list[Manager]
) -> None:
    port = free_port()
    manager = Manager(f"http://127.0.0.1:{port}", **QUICK)
    managers.append(manager)
    socket = manager.socket("/")
    connecting = asyncio.ensure_future(socket.connect())
    await asyncio.sleep(0.2)
    assert not connecting.done()
    server = SioServer(server_kind, **HEARTBEAT)
    server.port = port
    try:
        server.start()
        await asyncio.wait_for(connecting, 5)
        assert socket.connected
    finally:
        server.kill()


async def test_no_reconnection_when_disabled(sio: SioServer, managers: list[Manager]) -> None:
    socket, journal = await open_socket(sio, managers, "websocket", reconnection=False)
    sio.kill()
    await journal.wait("disconnect")
    await asyncio.sleep(0.2)
    assert journal.args("manager.reconnect_attempt") == []
    assert socket.io.ready_state == "closed"


async def test_heartbeat_keeps_the_connection(
    sio_factory: Callable[..., SioServer], managers: list[Manager], transport: str
) -> None:
    sio = sio_factory(**FAST)
    socket, journal = await open_socket(sio, managers, transport)
    await journal.wait("manager.ping", 2, within=3)
    assert socket.connected
    assert journal.args("disconnect") == []
    assert len(sio.of("handshake")) == 1


async def test_stalled_server_is_detected_by_ping_timeout(
    sio_factory: Callable[..., SioServer], managers: list[Manager], transport: str
) -> None:
    sio = sio_factory(**FAST)
    socket, journal = await open_socket(sio, managers, transport)
    if transport == "upgrade":
        await sio.wait_for("upgrade")
    await journal.wait("manager.ping")
    loop = asyncio.get_running_loop()
    sio.pause()
    paused_at = loop.time()
    try:
        await journal.wait("disconnect", within=5)
        detected_at = journal.times("disconnect")[0]
        assert journal.reasons() == ["ping timeout"]
        # The deadline is the last ping + 300 + 1000 ms, and that ping came at most 300 ms before
        # the pause: never before 1 s; the upper bound leaves a loaded machine a second of slack.
        assert 0.95 <= detected_at - paused_at <= 1.3 + 1.0
        # While the server is stalled, emits wait in the buffer.
        socket.emit("record", "while stalled")
    finally:
        sio.resume()
    await journal.wait("connect", 2, within=5)
    await sio.wait_for("record", args=["while stalled"])
    assert len(sio.of("record")) == 1


async def test_retries_resend_until_acknowledged(
    sio: SioServer, managers: list[Manager], transport: str
) -> None:
    # Each first attempt is left unanswered, so each costs one ack_timeout; an answered attempt
    # must come back within it, which needs a margin on a loaded machine.
    socket, _ = await open_socket(sio, managers, transport, retries=3, ack_timeout=0.5)
    sent: list[tuple[Any, ...]] = []
    socket.on_any_outgoing(lambda *args: sent.append(args))
    socket.emit("flaky", "k1")
    socket.emit("record", "after k1")
    assert await socket.emit_with_ack("flaky", "k2") == "ok:k2"
    flaky = await sio.wait_for("flaky", 4)
    assert [(f["key"], f["count"]) for f in flaky] == [("k1", 1), ("k1", 2), ("k2", 1), ("k2", 2)]
    # One packet in flight at a time: the record left only once k1 was acknowledged.
    assert sent == [
        ("flaky", "k1"),
        ("flaky", "k1"),
        ("record", "after k1"),
        ("flaky", "k2"),
        ("flaky", "k2"),
    ]


async def test_retries_exhausted(sio: SioServer, managers: list[Manager]) -> None:
    socket, _ = await open_socket(sio, managers, "websocket", retries=2, ack_timeout=0.05)
    sent: list[tuple[Any, ...]] = []
    socket.on_any_outgoing(lambda *args: sent.append(args))
    with pytest.raises(AckTimeoutError):
        await socket.emit_with_ack("no_ack", 1)
    assert sent == [("no_ack", 1)] * 3
    assert await socket.emit_with_ack("ack", 2) == 2


async def test_retries_deliver_at_least_once_across_a_restart(
    sio: SioServer, managers: list[Manager], transport: str
) -> None:
    socket, journal = await open_socket(sio, managers, transport, retries=10, ack_timeout=0.3)
    socket.emit("record", "before")
    await sio.wait_for("record", args=["before"])
    socket.emit("record", "in flight")
    sio.kill()
    for item in ("a", "b", "c"):
        socket.emit("record", item)
    await journal.wait("disconnect")
    sio.restart()
    await sio.wait_for("record", args=["c"], within=8)
    seen = [r["args"][0] for r in sio.of("record")]
    unique = list(dict.fromkeys(seen))
    assert unique == ["before", "in flight", "a", "b", "c"]


async def test_connection_state_recovery(
    sio_factory: Callable[..., SioServer], managers: list[Manager], transport: str
) -> None:
    sio = sio_factory(
        connectionStateRecovery={"maxDisconnectionDuration": 5000, "skipMiddlewares": False}
    )
    socket, journal = await open_socket(sio, managers, transport, auth={"token": "t"})
    assert socket.recovered is False
    first_id = socket.id
    news: list[tuple[Any, ...]] = []
    socket.on("news", lambda *args: news.append(args))
    socket.emit("broadcast", "one")
    await wait_until(lambda: news)
    assert news[0][0] == "one"
    offset = news[0][1]
    assert isinstance(offset, str)
    socket.emit("close_then_broadcast", "missed")
    await journal.wait("connect", 2)
    await wait_until(lambda: news, 2)
    assert news[1][0] == "missed"
    assert socket.recovered is True
    assert socket.id == first_id
    connections = await sio.wait_for("connection", 2)
    assert connections[1]["recovered"] is True
    middleware = sio.of("middleware")
    assert middleware[1]["auth"] == {
        "token": "t",
        "pid": middleware[1]["auth"]["pid"],
        "offset": offset,
    }
    assert journal.reasons() == ["transport close"]

    # A server that lost the session (restart) gives a fresh one: not recovered.
    sio.kill()
    sio.restart()
    await journal.wait("connect", 3, within=8)
    assert socket.recovered is False
    assert socket.id != first_id
