"""The README's examples run as written: the server answers real clients and stops on SIGINT; the
client snippet, run as top-level ``await`` code the way a REPL (``python -m asyncio``) runs it, talks
to that server."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import io
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import socketio

from tests.support.ports import free_port

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def _server_example(port: int) -> str:
    server = next(block for block in _blocks() if "aiosio.run(main())" in block)
    return server.replace("io.listen(3000)", f"io.listen({port})")


def _client_example(port: int) -> str:
    client = next(block for block in _blocks() if "from aiosio.client import" in block)
    assert '"http://127.0.0.1:3000"' in client
    return client.replace('"http://127.0.0.1:3000"', f'"http://127.0.0.1:{port}"')


@pytest.fixture
async def readme_server(tmp_path: Path) -> AsyncIterator[tuple[int, asyncio.subprocess.Process]]:
    """The README's server in its own process, once it answers; its port and process."""
    port = free_port()
    script = tmp_path / "readme_server.py"
    script.write_text(_server_example(port))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), stderr=asyncio.subprocess.PIPE
    )
    try:
        yield port, proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _python_socketio_client(port: int) -> socketio.AsyncClient:
    """A python-socketio client connected once the server listens (a fresh client per attempt: one
    whose connect failed is not reused)."""
    async with asyncio.timeout(20):
        while True:
            client = socketio.AsyncClient()
            try:
                await client.connect(f"http://127.0.0.1:{port}", wait_timeout=5)
                return client
            except socketio.exceptions.ConnectionError:
                await client.disconnect()
                await asyncio.sleep(0.05)


async def test_readme_server_example(readme_server: tuple[int, asyncio.subprocess.Process]) -> None:
    port, proc = readme_server
    client = await _python_socketio_client(port)
    assert client.connected
    assert await client.call("chat", "hello", timeout=5) == "ok"
    await client.disconnect()
    proc.send_signal(signal.SIGINT)
    async with asyncio.timeout(10):
        assert await proc.wait() == 0


async def test_readme_client_snippet(readme_server: tuple[int, asyncio.subprocess.Process]) -> None:
    port, proc = readme_server
    # Another member of the lobby sees what the snippet says.
    other = await _python_socketio_client(port)
    heard: asyncio.Queue[str] = asyncio.Queue()
    other.on("chat", heard.put_nowait)
    code = compile(
        _client_example(port), "README client", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    )
    namespace: dict[str, Any] = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        async with asyncio.timeout(10):
            await eval(code, namespace)  # a coroutine, as top-level await code compiles to
    try:
        assert printed.getvalue() == "ok\n"  # the snippet's comment says so
        async with asyncio.timeout(5):
            assert await heard.get() == "hello"
    finally:
        socket = namespace["socket"]
        await socket.disconnect()
        await socket.io.close()
        await other.disconnect()
    proc.send_signal(signal.SIGINT)
    async with asyncio.timeout(10):
        assert await proc.wait() == 0
