"""An instrumented server, aiosio's or the reference's (``AIOSIO_REFERENCE=1``), and Node clients."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from aiosio.admin import instrument
from aiosio.server import Server, Socket
from tests.conftest import WITH_REFERENCE
from tests.server.node import ROOT, NodeClients

StartAdmin = Callable[..., Awaitable[str]]

KINDS = ("aiosio", "reference") if WITH_REFERENCE else ("aiosio",)


def make_app(**admin_options: Any) -> Server:
    """The aiosio twin of tests/node/admin_server.js."""
    io = Server(cors={"origin": True, "credentials": True})

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        @socket.on("hello")
        async def hello(*args: Any) -> None:
            await asyncio.sleep(0)
            socket.emit("hello", *args)

    io.of("/chat")
    instrument(io, **admin_options)
    return io


@pytest.fixture(params=KINDS)
def admin_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
async def admin_server(admin_kind: str) -> AsyncIterator[StartAdmin]:
    """``url = await admin_server(auth=..., mode=..., read_only=..., server_id=...)``."""
    servers: list[Server] = []
    procs: list[asyncio.subprocess.Process] = []

    async def start(**options: Any) -> str:
        if admin_kind == "aiosio":
            io = make_app(**options)
            servers.append(io)
            port = await io.listen(0, "127.0.0.1")
            return f"http://127.0.0.1:{port}"
        if shutil.which("node") is None:
            pytest.fail("node is needed for the reference admin server")
        ref = {
            "auth": options.get("auth"),
            "mode": options.get("mode", "development"),
            "readonly": options.get("read_only", False),
            "serverId": options.get("server_id"),
        }
        auth = ref["auth"]
        if isinstance(auth, dict):
            ref["auth"] = {"type": "basic", **auth}
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(ROOT / "tests" / "node" / "admin_server.js"),
            json.dumps(ref),
            cwd=str(ROOT),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        procs.append(proc)
        assert proc.stdout is not None
        async with asyncio.timeout(10):
            line = await proc.stdout.readline()
        return f"http://127.0.0.1:{json.loads(line)['port']}"

    yield start
    for io in servers:
        await io.close()
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


@pytest.fixture
async def node() -> AsyncIterator[NodeClients]:
    """A Node process driving official socket.io-client sockets."""
    clients = await NodeClients.start()
    yield clients
    await clients.close()
