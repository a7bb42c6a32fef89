"""Socket.IO servers in their own processes, so tests can kill, restart and stall them.

``kind="node"`` runs tests/node/sio_server.js (the official socket.io server); ``kind="aiosio"`` runs
its twin tests/client/aiosio_server.py. Both print the same JSON lines, collected here.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "node" / "sio_server.js"
NODE = shutil.which("node")


KINDS = ("node", "aiosio")


def node_available() -> bool:
    """Whether node and the socket.io package can be found."""
    return NODE is not None and (ROOT / "node_modules" / "socket.io").is_dir()


def available(kind: str) -> bool:
    """Whether servers of ``kind`` can run here."""
    return kind == "aiosio" or node_available()


Event = dict[str, Any]


class SioServer:
    """One Socket.IO server process; it can be killed, restarted on its port, paused."""

    def __init__(self, kind: str = "node", **options: Any) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown server kind {kind!r}")
        self.kind = kind
        self.options = options
        self.port = 0
        self.events: list[Event] = []
        self.process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        args = [str(self.port), json.dumps(self.options)]
        if self.kind == "node":
            assert NODE is not None
            return [NODE, str(SCRIPT), *args]
        return [sys.executable, "-m", "tests.client.aiosio_server", *args]

    def start(self) -> None:
        # stdin stays open as a lifeline: the server exits when it closes.
        process = subprocess.Popen(
            self.command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,
            text=True,
            cwd=ROOT,
        )
        self.process = process
        listening = threading.Event()

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event.get("event") == "listening":
                    self.port = event["port"]
                    listening.set()
                    continue
                with self._lock:
                    self.events.append(event)

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        if not listening.wait(10):
            self.kill()
            raise RuntimeError(f"the {self.kind} server did not start")

    def kill(self) -> None:
        """Kill the process at once (SIGKILL): connections break without a goodbye."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()
        if self._reader is not None:
            self._reader.join(2)
        self.process = None

    def restart(self) -> None:
        """Start a fresh process on the same port."""
        self.kill()
        deadline = time.monotonic() + 5
        while True:
            try:
                self.start()
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise

    def pause(self) -> None:
        """SIGSTOP: the server stops answering without closing anything."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def of(self, kind: str, **match: Any) -> list[Event]:
        """Events named ``kind`` whose fields equal ``match``."""
        with self._lock:
            return [
                e
                for e in self.events
                if e.get("event") == kind and all(e.get(k) == v for k, v in match.items())
            ]

    async def wait_for(
        self, kind: str, count: int = 1, within: float = 5.0, **match: Any
    ) -> list[Event]:
        """Wait until at least ``count`` matching events were printed; return them."""
        return await wait_until(lambda: self.of(kind, **match), count, within, f"{kind} {match}")


async def wait_until(
    probe: Callable[[], list[Any]], count: int = 1, within: float = 5.0, what: str = ""
) -> list[Any]:
    """Poll ``probe`` until it returns at least ``count`` items."""
    deadline = time.monotonic() + within
    while True:
        found = probe()
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {count} x {what}: got {found}")
        await asyncio.sleep(0.01)
