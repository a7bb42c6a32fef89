"""``DEBUG=...`` output names the reference's scopes: compared with the reference's own output for the
same client session (the official client: polling, upgrade, an acknowledged event, disconnect)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

import pytest

from tests.server.node import node_available

ROOT = Path(__file__).resolve().parents[1]
SESSION = ROOT / "tests" / "node" / "debug_session.js"
#: The server side of the reference's scopes (the client's are left out: it runs in the same process).
DEBUG = "socket.io:*,engine,engine:*"
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (\S+) ")
CORE = {"engine", "engine:socket", "socket.io:server", "socket.io:client", "socket.io:namespace"}

SERVER = """
import asyncio, sys
import aiosio

async def main():
    io = aiosio.Server()
    @io.on("connection")
    def on_connection(socket):
        socket.on("echo", lambda text: text)
    port = await io.listen(0)
    print(port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await io.close()

aiosio.run(main())
"""

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(
        not node_available() and os.environ.get("CI", "").lower() != "true",
        reason="node and node_modules are needed",
    ),
]


def scopes(stderr: bytes) -> set[str]:
    found = set()
    for line in stderr.decode(errors="replace").splitlines():
        match = LINE.match(line)
        if match:
            found.add(match.group(1))
    return found


async def run_session(target: str, env: dict[str, str]) -> tuple[dict[str, str], bytes]:
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(SESSION),
        target,
        cwd=str(ROOT),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    result: dict[str, str] = json.loads(out.splitlines()[-1])
    return result, err


async def test_aiosio_debug_scopes_are_the_references() -> None:
    env = {**os.environ, "NODE_PATH": str(ROOT / "node_modules")}
    env.pop("DEBUG", None)
    reference, ref_err = await run_session("reference", {**env, "DEBUG": DEBUG})
    assert reference == {"answer": "hi"}
    ref_scopes = scopes(ref_err)
    assert ref_scopes >= CORE, ref_scopes

    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SERVER,
        cwd=str(ROOT),
        env={**env, "DEBUG": DEBUG},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        port = int(await asyncio.wait_for(server.stdout.readline(), 20))
        ours, _ = await run_session(f"http://127.0.0.1:{port}", env)
        assert ours == {"answer": "hi"}
    finally:
        assert server.stdin is not None
        server.stdin.close()
        _, err = await asyncio.wait_for(server.communicate(), 20)
    our_scopes = scopes(err)
    assert our_scopes >= CORE, err.decode()
    assert our_scopes <= ref_scopes | {"engine:http"}, our_scopes - ref_scopes
