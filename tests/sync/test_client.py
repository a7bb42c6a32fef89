"""The blocking Client: handlers on a worker thread answer the server's acks; reconnection; wait()."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from aiosio import ConnectRefusedError
from aiosio.sync import Client
from tests.client.servers import SioServer

from .helpers import server_events, transports, wait_for

FAST_RECONNECT = {"reconnection_delay": 0.05, "reconnection_delay_max": 0.1}


def test_handlers_run_on_a_worker_thread_and_answer_acks(sio: SioServer, transport: str) -> None:
    client = Client()
    seen: list[tuple[str, Any]] = []
    loop_thread: list[str] = []

    @client.on("question")
    def question(*args: Any) -> Any:
        seen.append(("question", args))
        loop_thread.append(threading.current_thread().name)
        time.sleep(0.05)  # blocking work is fine here: it does not stall the connection
        return {"answer": list(args)}

    @client.on("connect")
    def on_connect() -> None:
        seen.append(("connect", None))

    @client.event
    def echo(*args: Any) -> None:
        seen.append(("echo", args))

    client.connect(sio.url, auth={"token": "t"}, transports=transports(transport))
    try:
        assert client.connected
        assert client.get_sid("/") == client.sid
        client.emit("ask", 1, "x")
        answer = server_events(sio, "answer")[0]["answer"]
        assert answer == {"answer": [1, "x"]}
        assert all(name.startswith("aiosio-handlers") for name in loop_thread)
        client.emit("echo", {"k": "v"})
        wait_for(lambda: ("echo", ({"k": "v"},)) in seen)
        assert seen[0] == ("connect", None)
        assert client.call("ack", "back", timeout=5) == "back"
        # A handler may itself make blocking calls on its client.
        results: list[Any] = []
        client.on("item", lambda i: results.append(client.call("ack", i, timeout=5)))
        client.emit("many", 3)
        wait_for(lambda: len(results) == 3)
        assert results == [0, 1, 2]
    finally:
        client.disconnect()
    assert not client.connected
    assert client.wait(0) is True


def test_several_namespaces(sio: SioServer) -> None:
    client = Client()
    got: list[tuple[str, Any]] = []
    client.on("echo", lambda x: got.append(("/", x)))
    client.on("echo", lambda x: got.append(("/admin", x)), namespace="/admin")
    client.connect(sio.url, transports=["websocket"])
    try:
        assert sorted(client.namespaces) == ["/", "/admin"]
        client.emit("echo", 1)
        client.emit("echo", 2, namespace="/admin")
        wait_for(lambda: len(got) == 2)
        assert sorted(got) == [("/", 1), ("/admin", 2)]
        assert client.call("ack", "a", namespace="/admin", timeout=5) == "a"
        assert client.get_sid("/admin") != client.get_sid("/")
    finally:
        client.disconnect()


def test_refused_connection(sio: SioServer) -> None:
    client = Client()
    errors: list[Any] = []
    client.on("connect_error", errors.append, namespace="/forbidden")
    with pytest.raises(ConnectRefusedError) as info:
        client.connect(sio.url, namespaces=["/forbidden"], transports=["polling"])
    assert (info.value.message, info.value.data) == ("refused", {"reason": "bad token"})
    wait_for(lambda: errors)
    assert isinstance(errors[0], ConnectRefusedError)
    assert not client.connected


def test_reconnects_after_the_server_restarts(sio: SioServer, transport: str) -> None:
    client = Client(**FAST_RECONNECT)
    events: list[str] = []
    client.on("connect", lambda: events.append("connect"))
    client.on("disconnect", lambda reason: events.append(f"disconnect:{reason}"))
    client.connect(sio.url, transports=transports(transport))
    try:
        first = client.sid
        sio.restart()
        wait_for(lambda: events.count("connect") == 2, within=10)
        assert events[1].startswith("disconnect:")
        assert client.sid != first
        assert client.call("ack", "again", timeout=5) == "again"
        assert client.wait(0.05) is False  # still in session
    finally:
        client.disconnect()


def test_wait_returns_when_the_server_disconnects(sio: SioServer) -> None:
    client = Client()
    client.connect(sio.url, transports=["websocket"])
    client.emit("server_disconnect")
    assert client.wait(5) is True
    assert not client.connected
    client.disconnect()


def test_open_clients_are_closed_at_interpreter_exit(sio: SioServer) -> None:
    script = (
        "from aiosio.sync import Client, SimpleClient\n"
        f"c = Client(); c.connect({sio.url!r}, transports=['websocket'])\n"
        f"s = SimpleClient(); s.connect({sio.url!r}, transports=['polling'])\n"
        "print(c.call('ack', 'ok', timeout=5), flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    reasons = [e["reason"] for e in server_events(sio, "disconnect", count=2)]
    # Closed politely by the exit hook, not dropped.
    assert sorted(reasons) == ["client namespace disconnect", "client namespace disconnect"]


def test_typed_handlers_are_validated(sio: SioServer) -> None:
    import pydantic

    class Question(pydantic.BaseModel):
        text: str
        urgent: bool = False

    client = Client()
    got: list[Question] = []

    @client.on("question")
    def question(q: Question) -> Question:
        got.append(q)
        return Question(text=q.text.upper(), urgent=q.urgent)

    client.connect(sio.url, transports=["websocket"])
    try:
        client.emit("ask", {"text": "why", "urgent": "yes"})
        assert server_events(sio, "answer")[0]["answer"] == {"text": "WHY", "urgent": True}
        client.emit("ask", {"urgent": 3})
        answer = server_events(sio, "answer", count=2)[1]["answer"]
        assert answer["error"] == "invalid arguments"
        assert len(got) == 1
    finally:
        client.disconnect()
