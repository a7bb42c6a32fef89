"""Run a server under test on a free loopback port: embedded, or its ASGI app under uvicorn or hypercorn.

Works for anything with ``await listen(port, host) -> int``, ``asgi_app()`` and ``await close()``:
the Engine.IO server and the Socket.IO server. ASGI hosts run the app's lifespan, so it starts the
server as it does in production.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator
from typing import Any, Protocol

import uvicorn
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config as HypercornConfig

from tests.support.ports import free_port

__all__ = ["ALL_HOST_KINDS", "HOST_KINDS", "Listenable", "RunningHost", "start_host"]

#: "asgi" is uvicorn; "hypercorn" is a second ASGI server for a smaller set of tests.
HOST_KINDS = ("embedded", "asgi")
ALL_HOST_KINDS = (*HOST_KINDS, "hypercorn")
STARTUP_TIMEOUT = 5.0
SHUTDOWN_TIMEOUT = 5.0


class Listenable(Protocol):
    """What :func:`start_host` needs from a server."""

    async def listen(self, port: int = ..., host: str = ...) -> int: ...

    def asgi_app(self, fallback: Any = None) -> Any: ...

    async def close(self) -> None: ...


class RunningHost:
    """A server listening on ``127.0.0.1:port``; :meth:`close` stops it (idempotent)."""

    def __init__(self, kind: str, server: Listenable, port: int) -> None:
        self.kind = kind
        self.server = server
        self.port = port
        self._uvicorn: uvicorn.Server | None = None
        self._hypercorn_stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_base_url(self) -> str:
        """``ws://127.0.0.1:<port>``."""
        return f"ws://127.0.0.1:{self.port}"

    async def close(self) -> None:
        """Close the server's sessions, then the listener; bounded in time."""
        if self._closed:
            return
        self._closed = True
        try:
            await asyncio.wait_for(self.server.close(), SHUTDOWN_TIMEOUT)
        finally:
            if self._hypercorn_stop is not None and self._task is not None:
                self._hypercorn_stop.set()
                await self._stop_task()
            if self._uvicorn is not None and self._task is not None:
                self._uvicorn.should_exit = True
                try:
                    await asyncio.wait_for(asyncio.shield(self._task), SHUTDOWN_TIMEOUT)
                except TimeoutError:
                    self._uvicorn.force_exit = True
                    self._task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await self._task

    async def _stop_task(self) -> None:
        assert self._task is not None
        try:
            await asyncio.wait_for(asyncio.shield(self._task), SHUTDOWN_TIMEOUT)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


class _QuietUvicorn(uvicorn.Server):
    """uvicorn without its signal handlers: pytest keeps Ctrl-C."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def start_host(kind: str, server: Listenable, *, uvicorn_ws: str = "auto") -> RunningHost:
    """Serve ``server`` the ``kind`` way ("embedded", "asgi", "hypercorn") on a free port, once it
    listens. ``uvicorn_ws`` picks uvicorn's WebSocket implementation ("websockets", "wsproto", ...).
    """
    if kind == "embedded":
        port = await server.listen(0, "127.0.0.1")
        return RunningHost(kind, server, port)
    if kind == "hypercorn":
        return await _start_hypercorn(server)
    if kind != "asgi":
        raise ValueError(f"unknown host kind {kind!r}")
    port = free_port()
    config = uvicorn.Config(
        server.asgi_app(),
        host="127.0.0.1",
        port=port,
        lifespan="auto",  # runs the app's lifespan; an app without one still starts
        ws=uvicorn_ws,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    userver = _QuietUvicorn(config)
    task = asyncio.create_task(userver.serve())
    running = RunningHost(kind, server, port)
    running._uvicorn = userver
    running._task = task
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_TIMEOUT
    while not userver.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn exited during startup")
        if loop.time() > deadline:
            await running.close()
            raise RuntimeError("uvicorn did not start")
        await asyncio.sleep(0.005)
    return running


async def _start_hypercorn(server: Listenable) -> RunningHost:
    port = free_port()
    config = HypercornConfig()
    config.bind = [f"127.0.0.1:{port}"]
    config.loglevel = "WARNING"
    config.graceful_timeout = 1.0
    stop = asyncio.Event()
    app = server.asgi_app()
    task = asyncio.create_task(hypercorn_serve(app, config, shutdown_trigger=stop.wait))
    running = RunningHost("hypercorn", server, port)
    running._hypercorn_stop = stop
    running._task = task
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_TIMEOUT
    while True:
        if task.done():
            task.result()
            raise RuntimeError("hypercorn exited during startup")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if loop.time() > deadline:
                await running.close()
                raise RuntimeError("hypercorn did not start") from None
            await asyncio.sleep(0.01)
            continue
        writer.close()
        await writer.wait_closed()
        return running
