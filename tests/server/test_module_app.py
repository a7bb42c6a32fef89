"""A module-level ``Server`` served by ``python -m uvicorn module:app`` in its own process, with the
official socket.io-client (npm) as the peer."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.ports import free_port
from tests.support.requires import ROOT

from .node import NodeClients, requires_node

pytestmark = requires_node

TRANSPORTS: dict[str, dict[str, Any]] = {
    "polling": {"transports": ["polling"]},
    "websocket": {"transports": ["websocket"]},
    "upgrade": {},
}


@pytest.fixture
async def uvicorn_app() -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """``python -m uvicorn tests.server.module_app:app`` on a free port; its URL and process."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "uvicorn", "tests.server.module_app:app"),
        *("--host", "127.0.0.1", "--port", str(port), "--lifespan", "on", "--log-level", "warning"),
        # uvicorn waits for open requests before its lifespan shutdown: a held long-poll would keep
        # it up until the next ping; this bounds that wait as a deployment would.
        *("--timeout-graceful-shutdown", "1"),
        cwd=str(ROOT),
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(10):
            while True:
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    assert proc.returncode is None, "uvicorn exited during start-up"
                    await asyncio.sleep(0.02)
                    continue
                writer.close()
                await writer.wait_closed()
                break
        yield f"http://127.0.0.1:{port}", proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.parametrize("transport", list(TRANSPORTS))
async def test_module_level_app_under_uvicorn(
    uvicorn_app: tuple[str, asyncio.subprocess.Process], node: NodeClients, transport: str
) -> None:
    url, proc = uvicorn_app
    options = TRANSPORTS[transport]
    first = await node.connect("a", url, **options)
    assert first["ev"] == "connect"
    assert (await node.next("a", "event", name="welcome"))["args"] == [first["sid"]]
    second = await node.connect("b", url, **options)
    assert second["ev"] == "connect"
    await node.next("b", "event", name="welcome")

    node.send(cmd="emit", id="a", event="echo", args=[1, {"bin": b"\x00\xff"}], ack=True, tag="e")
    assert (await node.next("a", "ack", tag="e"))["args"] == ["echoed", 1, {"bin": b"\x00\xff"}]
    node.send(cmd="emit", id="a", event="chat", args=["hello"], ack=True, tag="c")
    assert (await node.next("a", "ack", tag="c"))["args"] == ["ok"]
    assert (await node.next("b", "event", name="chat"))["args"] == ["hello"]

    # SIGTERM: uvicorn runs the lifespan shutdown, which closes the server and its sessions.
    proc.send_signal(signal.SIGTERM)
    # Over WebSocket the server's close ends each session cleanly; a held long-poll is cut by
    # uvicorn's graceful-shutdown timeout first, which the client sees as a transport error.
    reason = "transport error" if transport == "polling" else "transport close"
    assert (await node.next("a", "disconnect"))["reason"] == reason
    assert (await node.next("b", "disconnect"))["reason"] == reason
    assert proc.stderr is not None
    async with asyncio.timeout(10):
        errors = (await proc.stderr.read()).decode()
        # uvicorn re-raises the signal it handled once it has shut down.
        assert await proc.wait() == -signal.SIGTERM
    if transport != "polling":
        assert "Traceback" not in errors, errors
        assert "ERROR" not in errors, errors
    else:
        # uvicorn cancels the held poll's task and logs that itself.
        assert "timeout graceful shutdown exceeded" in errors, errors
