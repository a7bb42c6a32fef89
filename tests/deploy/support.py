"""Processes and clients for the deployment tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import socketio

from tests.support.requires import IN_CI

ROOT = Path(__file__).resolve().parents[2]

__all__ = ["IN_CI", "ROOT", "Process", "SourceClient"]


class Process:
    """A child process whose stdout lines are collected."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def start(cls, *argv: str, env: dict[str, str] | None = None) -> Process:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=str(ROOT),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
            start_new_session=True,
        )
        return cls(proc)

    @classmethod
    async def python(cls, *argv: str, env: dict[str, str] | None = None) -> Process:
        return await cls.start(sys.executable, *argv, env=env)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.lines.append(line.decode(errors="replace").rstrip())
            self._changed.set()

    async def line_starting(self, prefix: str, timeout: float = 20.0) -> str:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while True:
                for line in self.lines:
                    if line.startswith(prefix):
                        return line
                if self.proc.returncode is not None and self._reader.done():
                    raise AssertionError("process exited:\n" + "\n".join(self.lines))
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.2):
                        await self._changed.wait()

    async def stop(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                async with asyncio.timeout(8):
                    await self.proc.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                await self.proc.wait()
        with contextlib.suppress(asyncio.CancelledError):
            self._reader.cancel()
            await self._reader


class SourceClient:
    """A python-socketio client whose connections come from a given loopback address."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(source, 0), force_close=False)
        )
        self.sio = socketio.AsyncClient(reconnection=False, http_session=self.session)
        self.events: asyncio.Queue[tuple[str, list[Any]]] = asyncio.Queue()
        self.sio.on("*", self._on_any)

    async def _on_any(self, event: str, *args: Any) -> None:
        await self.events.put((event, list(args)))

    async def next(self, event: str, timeout: float = 5.0) -> list[Any]:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while True:
                name, args = await self.events.get()
                if name == event:
                    return args

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()
        await self.session.close()
