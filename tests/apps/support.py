"""Run tests/apps/realapp.py in its own process under a given host, and the services it calls.

``start_app(host, ...)`` starts ``python -m tests.apps.realapp`` (the embedded server),
``uvicorn``, ``hypercorn`` or ``granian`` on a free port and returns once the port answers and the
app's adapter is in the cluster, never by sending the app a warm-up request: for the Redis adapter,
its subscription to the request channel (``PUBSUB NUMSUB`` from a separate client); for the
PostgreSQL adapter, its first heartbeat and the other nodes' answers, heard by a listener of the
test's own (:class:`PostgresNodes`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiohttp import web
from redis.asyncio import Redis

from aiosio.adapters.cluster import MessageType
from tests.deploy.support import Process
from tests.support.ports import free_port

__all__ = [
    "PG_DSN",
    "AppProcess",
    "PostgresNodes",
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


@dataclass
class PostgresNodes:
    """Listens on the PostgreSQL adapter's channel of the main namespace (``<key>#/``) and tells how
    many nodes have joined: a node counts once its INITIAL_HEARTBEAT was heard and every node known
    before it has answered with a HEARTBEAT since (PostgreSQL hands a notification to every listener
    at once, so the new node has heard those answers too)."""

    channel: str
    conn: asyncpg.Connection | None = None
    nodes: list[str] = field(default_factory=list)
    unanswered: set[str] = field(default_factory=set)

    async def start(self, dsn: str) -> None:
        self.conn = await asyncpg.connect(dsn)
        await self.conn.add_listener(self.channel, self._on_notify)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        message = json.loads(payload)
        uid = message.get("uid")
        if message.get("type") == MessageType.INITIAL_HEARTBEAT and uid not in self.nodes:
            self.unanswered = set(self.nodes)
            self.nodes.append(uid)
        elif message.get("type") == MessageType.HEARTBEAT:
            self.unanswered.discard(uid)

    def joined(self) -> int:
        """The nodes in the cluster, the newest counted once the others answered it."""
        return len(self.nodes) - (1 if self.unanswered else 0)

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


async def start_app(
    host: str, env: dict[str, str], ready: Callable[[], Awaitable[bool]], *, workers: int = 1
) -> AppProcess:
    """Serve the app under ``host``; started once its port answers and ``ready()`` is true."""
    port = free_port()
    process = await Process.start(*host_argv(host, port, workers), env=env)
    app = AppProcess(host, port, process)
    try:
        async with asyncio.timeout(STARTUP):
            while not await asyncio.to_thread(_port_open, port):
                if process.proc.returncode is not None:
                    raise AssertionError(f"{host} exited:\n{app.output()}")
                await asyncio.sleep(0.05)
            while True:
                if await ready():
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
