"""The demo chat, driven by python-socketio clients."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import socketio
from examples.chat import make_server, page


async def test_chat_presence_files_and_rate() -> None:
    io = make_server(admin_password="pw")
    port = await io.listen(0, fallback=page)
    url = f"http://127.0.0.1:{port}"
    alice = socketio.AsyncClient(reconnection=False)
    bob = socketio.AsyncClient(reconnection=False)
    heard: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    rates: asyncio.Queue[int] = asyncio.Queue()
    bob.on("chat", lambda sender, text: heard.put_nowait(("chat", (sender, text))))
    bob.on("file", lambda sender, info, content: heard.put_nowait(("file", (info, content))))
    bob.on("presence", lambda people: heard.put_nowait(("presence", [p["name"] for p in people])))
    bob.on("rate", rates.put_nowait)
    try:
        await alice.connect(url, transports=["websocket"], auth={"name": "alice"})
        await bob.connect(url, transports=["websocket"], auth={"name": "bob"})
        async with asyncio.timeout(5):
            assert await heard.get() == ("presence", ["alice", "bob"])
        assert await alice.call("chat", "hi bob", timeout=5) == "ok"
        content = bytes(range(256)) * 4
        assert await alice.call("file", ("notes.bin", "", content), timeout=5) == 1024
        assert await alice.call("rename", "  Alice  ", timeout=5) == "Alice"
        async with asyncio.timeout(5):
            assert await heard.get() == ("chat", ("alice", "hi bob"))
            assert await heard.get() == (
                "file",
                ({"name": "notes.bin", "type": "", "size": 1024}, content),
            )
            assert await heard.get() == ("presence", ["Alice", "bob"])
        async with asyncio.timeout(5):
            counts = [await rates.get(), await rates.get()]
        assert 1 in counts  # the one chat message of this test, in the second it was sent
        await alice.disconnect()
        async with asyncio.timeout(5):
            assert await heard.get() == ("presence", ["bob"])
        async with httpx.AsyncClient() as http:
            home = await http.get(url + "/")
            assert home.status_code == 200
            assert "aiosio chat" in home.text
            assert (await http.get(url + "/admin/")).status_code == 200
            metrics = await http.get(url + "/metrics")
            assert 'socketio_connected_sockets{namespace="/"} 1.0' in metrics.text
    finally:
        await alice.disconnect()
        await bob.disconnect()
        await io.close()
