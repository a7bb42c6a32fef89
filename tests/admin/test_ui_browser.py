"""The official Admin UI page, served by aiosio itself, in headless Chromium.

Screenshots go to a temporary directory; ``AIOSIO_SCREENSHOTS=docs/img`` refreshes the documentation's.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from aiosio.admin import instrument
from aiosio.server import Server, Socket
from tests.server.node import NodeClients
from tests.support.browser import BrowserScript, require_browser

pytestmark = pytest.mark.timeout(90)


async def test_admin_ui_shows_and_acts_on_a_client(node: NodeClients, tmp_path: Path) -> None:
    require_browser()
    io = Server()

    @io.on("connection")
    async def on_connection(socket: Socket) -> None:
        socket.data["name"] = socket.handshake.auth.get("name", "anonymous")
        if socket.handshake.auth.get("vip"):
            socket.join("vip")

    instrument(io, auth={"username": "admin", "password": "hunter2"}, serve_ui=True)
    port = await io.listen(0)
    url = f"http://127.0.0.1:{port}"
    browser: BrowserScript | None = None
    try:
        other = await node.connect(
            "c2", url, "/", transports=["websocket"], forceNew=True, auth={"vip": True}
        )
        assert other["ev"] == "connect"
        client = await node.connect(
            "c1", url, "/", transports=["websocket"], forceNew=True, auth={"name": "alice"}
        )
        assert client["ev"] == "connect"
        browser = await BrowserScript.start(
            "admin_ui",
            url=url,
            username="admin",
            password="hunter2",
            socketId=client["sid"],
            clients=3,  # two clients and the UI itself
            room="vip",
            screenshots=str(tmp_path),
        )
        assert (await browser.step())["step"] == "connected"
        dashboard = await browser.step()
        assert dashboard["step"] == "dashboard"
        assert "3" in dashboard["clients"]
        sockets = await browser.step()
        assert client["sid"] in sockets["row"]
        assert (await browser.step()) == {"step": "joined", "room": "vip"}
        members = await io.in_("vip").fetch_sockets()
        assert sorted(s.id for s in members) == sorted([client["sid"], other["sid"]])
        await browser.tell(cmd="disconnect")
        assert (await browser.step())["step"] == "disconnected"
        gone = await node.next("c1", "disconnect")
        assert gone["reason"] == "io server disconnect"
        assert client["sid"] not in io.sockets.sockets
        for name in ("admin-dashboard.png", "admin-sockets.png", "admin-socket.png"):
            assert (tmp_path / name).stat().st_size > 10_000
            target = os.environ.get("AIOSIO_SCREENSHOTS")
            if target:
                shutil.copy(tmp_path / name, Path(target) / name)
    finally:
        if browser is not None:
            await browser.close()
        await io.close()
