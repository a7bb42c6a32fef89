"""Run tests/apps/realapp.py in its own process under a given host, and the services it calls.

``start_app(host, ...)`` starts ``python -m tests.apps.realapp`` (the embedded server),
``uvicorn``, ``hypercorn`` or ``granian`` on a free port and returns once the port answers and the
app's Redis adapter has subscribed to its request channel, checked with a separate Redis client
(``PUBSUB NUMSUB``), never by sending the app a warm-up request.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from tests.deploy.support import Process
from tests.support.ports import free_port

__all__ = [
    "PG_DSN",
    "AppProcess",
    "echo_service",
    "eventually",
    "request_subscribers",
    "start_app",
]

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
STARTUP = 30.0


@dataclass
class AppProcess:
    """One process (or one process tree, with workers) serving the app."""

    host: str
    port: int
    process: Process

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        await self.process.stop()

    def output(self) -> str:
        return "\n".join(self.process.lines)


def host_argv(host: str, port: int, workers: int = 1) -> list[str]:
    """The command line that serves the module-level app under ``host``."""
    target = "tests.apps.realapp:app"
    python = sys.executable
    if host == "embedded":
        return [python, "-m", "tests.apps.realapp", "--port", str(port)]
    if host in ("uvicorn", "uvicorn-no-lifespan"):
        argv = [python, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port)]
        if host == "uvicorn-no-lifespan":
            argv += ["--lifespan", "off"]
        return [*argv, "--workers", str(workers)] if workers > 1 else argv
    if host == "hypercorn":
        return [python, "-m", "hypercorn", target, "--bind", f"127.0.0.1:{port}"]
    if host == "granian":
        return [
            *(python, "-m", "granian", "--interface", "asgi"),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), target),
        ]
    raise ValueError(host)


async def request_subscribers(redis: Redis, key: str) -> int:
    """How many servers listen on the adapter's request channel of the main namespace."""
    channel = f"{key}-request#/#"
    answer = await redis.pubsub_numsub(channel)
    return int(answer[0][1])


async def eventually(
    probe: Callable[[], Any], check: Callable[[Any], bool] = bool, within: float = 10.0
) -> Any:
    """Call ``probe`` (awaiting it when it is a coroutine) until ``check`` accepts its value."""
    last: Any = None
    try:
        async with asyncio.timeout(within):
            while True:
                last = probe()
                if inspect.isawaitable(last):
                    last = await last
                if check(last):
                    return last
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"still {last!r} after {within} s") from None


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


async def start_app(
    host: str,
    redis: Redis,
    env: dict[str, str],
    *,
    subscribers: int = 1,
    workers: int = 1,
) -> AppProcess:
    """Serve the app under ``host``; ready once ``subscribers`` servers share the key in Redis."""
    port = free_port()
    process = await Process.start(*host_argv(host, port, workers), env=env)
    app = AppProcess(host, port, process)
    try:
        async with asyncio.timeout(STARTUP):
            while not await asyncio.to_thread(_port_open, port):
                if process.proc.returncode is not None:
                    raise AssertionError(f"{host} exited:\n{app.output()}")
                await asyncio.sleep(0.05)
            key = env["REALAPP_KEY"]
            while True:
                if await request_subscribers(redis, key) >= subscribers:
                    break
                await asyncio.sleep(0.02)
    except BaseException as exc:
        await app.stop()
        if isinstance(exc, TimeoutError):
            raise AssertionError(f"{host} did not get ready:\n{app.output()}") from None
        raise
    return app


@contextlib.asynccontextmanager
async def echo_service() -> AsyncIterator[str]:
    """A small HTTP service on a free port: ``GET /echo?text=x`` answers ``echo:x``."""

    async def echo(request: web.Request) -> web.Response:
        return web.Response(text=f"echo:{request.query.get('text', '')}")

    application = web.Application()
    application.router.add_get("/echo", echo)
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
