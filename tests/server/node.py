"""Drive the official socket.io-client (npm) in a Node process from the tests."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "tests" / "node" / "sio_client.js"
DRIVER_V2 = ROOT / "tests" / "node" / "sio_client_v2.js"


def node_available() -> bool:
    return (
        shutil.which("node") is not None and (ROOT / "node_modules" / "socket.io-client").is_dir()
    )


# Through tests/support/requires.py: under CI a missing Node peer fails, never skips.
requires_node = pytest.mark.usefixtures("node_required")


def to_wire(value: Any) -> Any:
    """Python values to the driver's JSON (bytes as ``{"$bin": base64}``)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bin": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    return value


def from_wire(value: Any) -> Any:
    """The driver's JSON back to Python values."""
    if isinstance(value, list):
        return [from_wire(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"$bin"}:
            return base64.b64decode(value["$bin"])
        return {k: from_wire(v) for k, v in value.items()}
    return value


class NodeClients:
    """One Node process holding any number of socket.io-client sockets, each with an id."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def start(cls, driver: Path = DRIVER) -> NodeClients:
        """Start a driver: ``sio_client.js`` by default, ``sio_client_v2.js`` for 2.x clients."""
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(driver),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=str(ROOT),
        )
        clients = cls(proc)
        await clients.expect(lambda e: e["ev"] == "ready")
        return clients

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                return
            event = json.loads(line)
            if event["ev"] == "driver_error":
                raise AssertionError(event["message"])
            if "args" in event:
                event["args"] = from_wire(event["args"])
            self.events.append(event)
            self._changed.set()

    def send(self, **cmd: Any) -> None:
        assert self.proc.stdin is not None
        if "args" in cmd:
            cmd["args"] = to_wire(cmd["args"])
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())

    async def expect(self, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Wait (up to 5 s) for the first event that ``match`` accepts, and consume it."""
        async with asyncio.timeout(5.0):
            while True:
                for i, event in enumerate(self.events):
                    if match(event):
                        del self.events[i]
                        return event
                self._changed.clear()
                await self._changed.wait()

    async def next(self, cid: str, ev: str, **fields: Any) -> dict[str, Any]:
        """The next event ``ev`` of client ``cid`` whose fields match ``fields``."""
        return await self.expect(
            lambda e: (
                e["ev"] == ev
                and e.get("id") == cid
                and all(e.get(k) == v for k, v in fields.items())
            )
        )

    async def connect(self, cid: str, url: str, nsp: str = "/", **opts: Any) -> dict[str, Any]:
        opts.setdefault("reconnection", False)
        self.send(cmd="connect", id=cid, url=url, nsp=nsp, opts=opts)
        return await self.expect(
            lambda e: e.get("id") == cid and e["ev"] in ("connect", "connect_error")
        )

    async def close(self) -> None:
        if self.proc.returncode is None:
            self.send(cmd="exit")
            try:
                async with asyncio.timeout(3):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self._reader.cancel()
