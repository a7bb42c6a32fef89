"""Run a Node script from ``tests/node`` as a real peer, speaking JSON lines.

The script writes one JSON object per line on stdout (an event, with an ``"event"`` key) and reads
one JSON object per line on stdin (a command, with a ``"cmd"`` key). Binary payloads travel as
``{"b64": "..."}``. Anything on stderr is kept and shown when an expectation fails.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.events import Event, EventLog

__all__ = ["NODE_DIR", "REPO_ROOT", "NodeProcess", "decode_data", "encode_data"]

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = REPO_ROOT / "tests" / "node"
STOP_TIMEOUT = 2.0


def encode_data(data: str | bytes) -> Any:
    """A payload as the Node scripts expect it: text as is, binary as ``{"b64": ...}``."""
    if isinstance(data, bytes | bytearray | memoryview):
        return {"b64": base64.b64encode(bytes(data)).decode()}
    return data


def decode_data(value: Any) -> str | bytes:
    """The inverse of :func:`encode_data`."""
    if isinstance(value, dict) and "b64" in value:
        return base64.b64decode(value["b64"])
    if not isinstance(value, str):
        raise TypeError(f"not a payload: {value!r}")
    return value


class NodeProcess:
    """One running ``node tests/node/<script>.js <args>``: :meth:`start` it, always :meth:`stop`."""

    def __init__(self, script: str, args: list[str]) -> None:
        self.script = script
        self.args = args
        self.stderr = bytearray()
        self.log = EventLog(self._describe)
        self.stopped = False
        self._proc: asyncio.subprocess.Process | None = None
        self._readers: list[asyncio.Task[None]] = []

    @classmethod
    async def start(cls, script: str, *args: str) -> NodeProcess:
        """Start the script; returns once the process runs (not once it reports anything)."""
        self = cls(script, list(args))
        path = NODE_DIR / (script if script.endswith(".js") else f"{script}.js")
        self._proc = await asyncio.create_subprocess_exec(
            "node",
            str(path),
            *args,
            cwd=str(REPO_ROOT),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "NODE_PATH": str(REPO_ROOT / "node_modules")},
        )
        self._readers = [
            asyncio.create_task(self._read_stdout()),
            asyncio.create_task(self._read_stderr()),
        ]
        return self

    @property
    def pid(self) -> int:
        """The process id."""
        assert self._proc is not None
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """The exit status once the process has ended."""
        assert self._proc is not None
        return self._proc.returncode

    def _describe(self) -> str:
        tail = self.stderr[-4000:].decode(errors="replace")
        return f"\nnode {self.script} stderr:\n{tail}" if tail else ""

    async def _read_stdout(self) -> None:
        assert self._proc is not None
        assert self._proc.stdout is not None
        stream = self._proc.stdout
        while line := await stream.readline():
            text = line.decode(errors="replace").strip()
            if not text:
                continue
            try:
                event = json.loads(text)
            except ValueError:
                self.stderr += f"[stdout, not JSON] {text}\n".encode()
                continue
            self.log.push(event if isinstance(event, dict) else {"event": "value", "value": event})
        status = await self._proc.wait()
        self.log.end(f"node {self.script} exited with status {status}")

    async def _read_stderr(self) -> None:
        assert self._proc is not None
        assert self._proc.stderr is not None
        while chunk := await self._proc.stderr.read(65536):
            self.stderr += chunk

    async def send(self, cmd: str, **fields: Any) -> None:
        """Write one command line to the script."""
        assert self._proc is not None
        assert self._proc.stdin is not None
        line = json.dumps({"cmd": cmd, **fields}, separators=(",", ":")) + "\n"
        self._proc.stdin.write(line.encode())
        await self._proc.stdin.drain()

    async def expect(self, predicate: Callable[[Event], bool], timeout: float = 5.0) -> Event:  # noqa: ASYNC109 (the documented test API)
        """Wait for the first untaken event that satisfies ``predicate``."""
        return await self.log.expect(predicate, timeout)

    async def expect_event(self, name: str, timeout: float = 5.0, **fields: Any) -> Event:  # noqa: ASYNC109 (the documented test API)
        """Wait for an event called ``name`` whose given fields are equal."""
        return await self.log.expect_event(name, timeout, **fields)

    async def next_event(self, timeout: float = 5.0) -> Event:  # noqa: ASYNC109 (the documented test API)
        """Wait for the oldest untaken event."""
        return await self.log.next_event(timeout)

    async def wait(self, timeout: float = 5.0) -> int:  # noqa: ASYNC109 (the documented test API)
        """Wait until the process exits on its own; returns its status."""
        assert self._proc is not None
        return await asyncio.wait_for(self._proc.wait(), timeout)

    def pause(self) -> None:
        """SIGSTOP the process: it stops answering anything (heartbeats included)."""
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        os.kill(self.pid, signal.SIGCONT)

    async def stop(self) -> None:
        """End the process (SIGTERM, then SIGKILL) in bounded time; safe to call twice."""
        if self.stopped or self._proc is None:
            return
        self.stopped = True
        proc = self._proc
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGCONT)
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        for task in self._readers:
            try:
                await asyncio.wait_for(task, STOP_TIMEOUT)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        if proc.stdin is not None:
            proc.stdin.close()
        if self.stderr:
            # Shown by pytest only when the test fails.
            text = self.stderr.decode(errors="replace")
            sys.stderr.write(f"--- node {self.script} stderr ---\n{text}")
