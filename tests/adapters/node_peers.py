"""Node peers of a mixed cluster: a socket.io server with a Redis adapter, the official emitter."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any

from tests.server.node import ROOT, from_wire, node_available, to_wire

__all__ = ["NodeScript", "node_available"]

_tags = itertools.count()


class NodeScript:
    """``node tests/node/<script>.js <args>``: JSON commands in, ``{"ev": ...}`` events out."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read())
        self.port = 0

    @classmethod
    async def start(cls, script: str, *args: str) -> NodeScript:
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(ROOT / "tests" / "node" / f"{script}.js"),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=str(ROOT),
        )
        peer = cls(proc)
        ready = await peer.expect(lambda e: e["ev"] in ("ready", "driver_error"))
        if ready["ev"] == "driver_error":
            raise AssertionError(ready["message"])
        peer.port = int(ready.get("port", 0))
        return peer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            event = json.loads(line)
            for key in ("args", "responses", "sockets", "answer"):
                if key in event:
                    event[key] = from_wire(event[key])
            self.events.append(event)
            self._changed.set()

    def send(self, cmd: str, **fields: Any) -> str:
        """Send a command; returns its tag (events answering it carry the same tag)."""
        assert self.proc.stdin is not None
        tag = f"t{next(_tags)}"
        if "args" in fields:
            fields["args"] = to_wire(fields["args"])
        line = json.dumps({"cmd": cmd, "tag": tag, **fields}) + "\n"
        self.proc.stdin.write(line.encode())
        return tag

    async def expect(
        self,
        match: Callable[[dict[str, Any]], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 (the documented test API)
    ) -> dict[str, Any]:
        """Wait for the first event ``match`` accepts, and consume it."""
        async with asyncio.timeout(timeout):
            while True:
                for i, event in enumerate(self.events):
                    if event["ev"] == "driver_error":
                        raise AssertionError(event["message"])
                    if match(event):
                        del self.events[i]
                        return event
                self._changed.clear()
                await self._changed.wait()

    async def call(self, cmd: str, **fields: Any) -> dict[str, Any]:
        """Send a command and wait for the event with its tag."""
        tag = self.send(cmd, **fields)
        return await self.expect(lambda e: e.get("tag") == tag)

    def kill(self) -> None:
        """SIGKILL: the peer vanishes without a word."""
        if self.proc.returncode is None:
            self.proc.kill()

    async def close(self) -> None:
        if self.proc.returncode is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                async with asyncio.timeout(3):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self._reader.cancel()
