"""Odd input on the admin namespace: refused or ignored, with the connection intact."""

from __future__ import annotations

import logging

import pytest

from aiosio.admin import instrument
from aiosio.server import Server
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
