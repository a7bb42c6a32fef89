"""SimpleClient against the official socket.io server and aiosio's, over every transport setup."""

from __future__ import annotations

import threading
import time

import pytest

from aiosio import AckTimeoutError, ClientConnectionError, ConnectRefusedError, DisconnectedError
from aiosio.sync import SimpleClient
from tests.client.servers import SioServer

from .helpers import server_events, transports, wait_for


def test_connect_emit_call_receive(sio: SioServer, transport: str) -> None:
    with SimpleClient() as client:
        client.connect(
            sio.url,
            auth={"token": "abc"},
            transports=transports(transport),
            headers={"x-test": "yes"},
        )
        assert client.connected
        assert isinstance(client.sid, str)
        connection = server_events(sio, "connection")[0]
        assert connection["id"] == client.sid
        assert connection["auth"] == {"token": "abc"}
        assert connection["header"] == "yes"

        client.emit("echo", 1, "two", {"three": [3, None]})
        assert client.receive(timeout=5) == ("echo", 1, "two", {"three": [3, None]})
        assert client.call("ack", "a", 2, timeout=5) == ("a", 2)
        assert client.call("ack", "one") == "one"
        assert client.call("binary", b"\x00\xff", timeout=5) == (b"\x00\xff\x01\x02\x03", "text")
        assert client.receive(timeout=5) == (
            "binary",
            {"buf": b"\x00\xff\x01\x02\x03", "list": [b"xyz", 7]},
        )
        client.emit("many", 50)
        assert [client.receive(timeout=5) for _ in range(50)] == [("item", i) for i in range(50)]
        if transport == "upgrade":
            server_events(sio, "upgrade")
            wait_for(lambda: client.transport == "websocket")
        expected = "polling" if transport == "polling" else "websocket"
        assert client.call("get_transport", timeout=5) == expected
        sid = client.sid
    assert not client.connected
    assert client.sid is None
    assert server_events(sio, "disconnect", id=sid)[0]["reason"] == "client namespace disconnect"


def test_receive_times_out(sio: SioServer) -> None:
    with SimpleClient() as client:
        client.connect(sio.url, transports=["websocket"])
        with pytest.raises(TimeoutError):
            client.receive(timeout=0.1)


def test_call_times_out(sio: SioServer) -> None:
    with SimpleClient() as client:
        client.connect(sio.url, transports=["websocket"])
        with pytest.raises(AckTimeoutError):
            client.call("no_ack", timeout=0.2)
        assert client.call("ack", "still works", timeout=5) == "still works"


def test_refused_connection_raises_the_servers_message_and_data(
    sio: SioServer, transport: str
) -> None:
    client = SimpleClient()
    with pytest.raises(ConnectRefusedError) as info:
        client.connect(sio.url, auth={"token": "bad"}, transports=transports(transport))
    assert info.value.message == "refused"
    assert info.value.data == {"reason": "bad token"}
    assert not client.connected
    with pytest.raises(ConnectRefusedError):
        client.connect(sio.url, namespace="/forbidden", transports=transports(transport))


def test_unreachable_server_raises_after_wait_timeout() -> None:
    from tests.support.ports import free_port

    client = SimpleClient(reconnection_delay=0.05)
    with pytest.raises(ClientConnectionError):
        client.connect(f"http://127.0.0.1:{free_port()}", wait_timeout=0.5)
    assert not client.connected


def test_threads_share_one_client(sio: SioServer) -> None:
    answers: list[tuple[int, int]] = []
    lock = threading.Lock()
    with SimpleClient() as client:
        client.connect(sio.url, namespace="/admin", transports=["websocket"])

        def worker(n: int) -> None:
            for i in range(20):
                answer = client.call("ack", n, i, timeout=5)
                with lock:
                    answers.append(answer)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert sorted(answers) == sorted((n, i) for n in range(4) for i in range(20))


def test_receive_after_the_server_ends_the_session(sio: SioServer) -> None:
    client = SimpleClient()
    with pytest.raises(DisconnectedError):
        client.receive(timeout=5)  # never connected
    client.connect(sio.url, transports=["websocket"])
    client.emit("echo", "last")
    client.emit("server_disconnect")
    assert client.receive(timeout=5) == ("echo", "last")  # what arrived is still handed out
    started = time.monotonic()
    with pytest.raises(DisconnectedError):
        client.receive(timeout=5)
    assert time.monotonic() - started < 4
    assert not client.connected
    client.disconnect()
