"""The README's server example runs as written, answers a real client, and stops on SIGINT."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

import socketio

from tests.support.ports import free_port

README = Path(__file__).resolve().parents[1] / "README.md"


def _server_example(port: int) -> str:
    blocks: list[str] = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    server = next(block for block in blocks if "aiosio.run(main())" in block)
    return server.replace("io.listen(3000)", f"io.listen({port})")


async def test_readme_server_example(tmp_path: Path) -> None:
    port = free_port()
    script = tmp_path / "readme_server.py"
    script.write_text(_server_example(port))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), stderr=asyncio.subprocess.PIPE
    )
    client = socketio.AsyncClient()
    try:
        for _ in range(100):
            try:
                await client.connect(f"http://127.0.0.1:{port}", wait_timeout=2)
                break
            except socketio.exceptions.ConnectionError:
                await asyncio.sleep(0.05)
        assert client.connected
        assert await client.call("chat", "hello", timeout=2) == "ok"
        await client.disconnect()
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(10):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
