"""aiosio only: odd input on the admin namespace is refused or ignored; data changes reported on request."""

from __future__ import annotations

import logging

import pytest

from aiosio.admin import instrument
from aiosio.server import Server, Socket
from tests.server.node import NodeClients


async def test_odd_actions_are_ignored_and_logged(
    node: NodeClients, caplog: pytest.LogCaptureFixture
) -> None:
    io = Server()
    instrument(io, auth={"username": "admin", "password": "pw"})
    port = await io.listen(0)
    url = f"http://127.0.0.1:{port}"
    try:
        odd = await node.connect("odd", url, "/admin", auth={"username": 1, "password": None})
        assert odd == {
            "ev": "connect_error",
            "id": "odd",
            "message": "invalid credentials",
            "data": None,
        }
        admin = await node.connect(
            "admin", url, "/admin", auth={"username": "admin", "password": "pw"}, forceNew=True
        )
        assert admin["ev"] == "connect"
        c1 = await node.connect("c1", url, "/", forceNew=True, transports=["websocket"])
        with caplog.at_level(logging.INFO, logger="aiosio.admin"):
            node.send(cmd="emit", id="admin", event="emit", args=["/nowhere", None, "x"])
            node.send(cmd="emit", id="admin", event="join", args=[["/"], "room"])
            node.send(cmd="emit", id="admin", event="emit", args=["/", None, 42])
            node.send(cmd="emit", id="admin", event="emit", args=["/", c1["sid"], "fine", 1])
            assert (await node.next("c1", "event", name="fine"))["args"] == [1]
        assert "action on unknown namespace '/nowhere' ignored" in caplog.text
        assert admin["sid"] in io.of("/admin").sockets
        assert not [e for e in node.events if e["ev"] == "disconnect"]
        assert not [e for e in node.events if e["id"] == "c1" and e["ev"] == "event"]
    finally:
        await io.close()


async def test_socket_updated_reports_new_data(node: NodeClients) -> None:
    io = Server()
    admin = instrument(io, auth=False)

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        @socket.on("rename")
        def rename(name: str) -> None:
            socket.data["name"] = name
            admin.socket_updated(socket)

    port = await io.listen(0)
    url = f"http://127.0.0.1:{port}"
    try:
        await node.connect("admin", url, "/admin", forceNew=True)
        c1 = await node.connect("c1", url, "/", forceNew=True)
        node.send(cmd="emit", id="c1", event="rename", args=["zoe"])
        update = await node.expect(
            lambda e: (
                e["ev"] == "event" and e["name"] == "socket_updated" and "data" in e["args"][0]
            )
        )
        assert update["args"] == [{"id": c1["sid"], "nsp": "/", "data": {"name": "zoe"}}]
    finally:
        await io.close()
