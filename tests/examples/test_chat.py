"""The chat example, driven by python-socketio clients."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import socketio
from examples.chat import make_server, page


async def test_chat_rooms_acks_and_upload() -> None:
    io = make_server()
    port = await io.listen(0, fallback=page)
    url = f"http://127.0.0.1:{port}"
    alice = socketio.AsyncClient(reconnection=False)
    bob = socketio.AsyncClient(reconnection=False)
    heard: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    bob.on("chat", lambda sender, text: heard.put_nowait(("chat", text)))
    bob.on("file", lambda sender, name, size: heard.put_nowait(("file", (name, size))))
    try:
        await alice.connect(url, transports=["websocket"])
        await bob.connect(url, transports=["websocket"])
        assert await alice.call("join", "lobby", timeout=5) == 1
        assert await bob.call("join", "lobby", timeout=5) == 2
        assert await alice.call("chat", "hi bob", timeout=5) == "ok"
        assert await alice.call("upload", ("notes.txt", b"\x00" * 10), timeout=5) == 10
        async with asyncio.timeout(5):
            assert await heard.get() == ("chat", "hi bob")
            assert await heard.get() == ("file", ("notes.txt", 10))
        async with httpx.AsyncClient() as http:
            home = await http.get(url + "/")
            assert home.status_code == 200
            assert "aiosio chat" in home.text
    finally:
        await alice.disconnect()
        await bob.disconnect()
        await io.close()
