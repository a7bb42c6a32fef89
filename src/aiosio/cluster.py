"""Run one aiosio server per CPU core behind one port, with sticky sessions.

::

    # myapp.py
    def make_server(worker: int) -> aiosio.Server:
        io = aiosio.Server(adapter=create_adapter(redis.asyncio.Redis()))
        io.on("connection", ...)
        return io

    $ python -m aiosio.cluster myapp:make_server --host 0.0.0.0 --port 3000 --workers 4

The parent process owns the listening socket. It accepts each TCP connection and hands the socket itself
(``SCM_RIGHTS``) to the worker chosen by a hash of the client's IP address, so every request of a client
(each HTTP long-polling request, the WebSocket upgrade) reaches the worker that holds its session. This
is what ``ip_hash`` does in nginx; ``SO_REUSEPORT`` alone is not sticky and breaks long-polling. Clients
behind one address (a NAT) share a worker. The workers form a cluster through the adapter the factory
gives them (Redis, ...), so broadcasts and rooms span all of them.

A worker that dies is started again with the same index (its clients reconnect to it). SIGINT/SIGTERM
stop the parent and the workers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiosio.server import Server

__all__ = ["load_factory", "main", "run", "worker_for"]

logger = logging.getLogger("aiosio.http")

ServerFactory = Callable[[int], "Server"]


def worker_for(address: str, workers: int) -> int:
    """The worker index that serves client ``address`` (stable across restarts and processes)."""
    return zlib.crc32(address.encode()) % workers


def load_factory(spec: str) -> ServerFactory:
    """``"package.module:function"`` -> the function (which builds the Server of one worker)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"expected 'module:function', got {spec!r}")
    factory = getattr(importlib.import_module(module_name), attr)
    if not callable(factory):
        raise TypeError(f"{spec} is not callable")
    return factory  # type: ignore[no-any-return]


# -- worker ----------------------------------------------------------------------------------------


async def _serve_handed_sockets(io: Server, channel: socket.socket) -> None:
    from aiosio._http.host import Host
    from aiosio._http.protocol import HttpProtocol

    await io.start()  # adapter init: join the cluster before taking clients
    host = Host(io.engine_app(), None, "http")
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    pending: set[asyncio.Task[Any]] = set()

    def adopt(sock: socket.socket) -> None:
        task = loop.create_task(loop.connect_accepted_socket(lambda: HttpProtocol(host), sock))
        pending.add(task)
        task.add_done_callback(pending.discard)

    def on_readable() -> None:
        while True:
            try:
                data, fds, _flags, _addr = socket.recv_fds(channel, 64, 64)
            except BlockingIOError:
                return
            except OSError:
                data, fds = b"", []
            if not data and not fds:
                if not stop.done():
                    stop.set_result(None)  # the parent is gone
                return
            for fd in fds:
                adopt(socket.socket(fileno=fd))

    channel.setblocking(False)
    loop.add_reader(channel.fileno(), on_readable)

    def on_signal() -> None:
        if not stop.done():
            stop.set_result(None)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    channel.send(b"R")  # ready
    try:
        await stop
    finally:
        loop.remove_reader(channel.fileno())
        await io.close()
        for connection in list(host.connections):
            connection.abort()


def _worker(spec: str, index: int, channel_fd: int) -> None:
    from aiosio.serve import run as run_loop

    channel = socket.socket(fileno=channel_fd)
    # built before the loop runs, so the adapter's init is deferred and awaited before serving
    io = load_factory(spec)(index)
    run_loop(_serve_handed_sockets(io, channel))


# -- parent ----------------------------------------------------------------------------------------


class _Worker:
    def __init__(self, spec: str, index: int, env: dict[str, str]) -> None:
        self.index = index
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.channel = parent_end
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "aiosio.cluster", "--worker", str(index),
             "--channel-fd", str(child_end.fileno()), spec],
            pass_fds=[child_end.fileno()],
            env=env,
        )  # fmt: skip
        child_end.close()

    def wait_ready(self, timeout: float) -> None:
        self.channel.settimeout(timeout)
        try:
            if self.channel.recv(1) != b"R":
                raise RuntimeError(f"worker {self.index} exited while starting")
        finally:
            self.channel.settimeout(None)

    def hand(self, conn: socket.socket) -> bool:
        try:
            socket.send_fds(self.channel, [b"c"], [conn.fileno()])
        except OSError:
            return False
        return True

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.channel.close()
        if self.proc.poll() is None:
            self.proc.terminate()


def run(
    spec: str,
    *,
    host: str = "127.0.0.1",
    port: int = 3000,
    workers: int | None = None,
    backlog: int = 1024,
    on_listening: Callable[[str, int], None] | None = None,
) -> None:
    """Start ``workers`` processes (default: one per CPU) serving ``spec``'s servers on ``host:port``.

    Blocks until SIGINT/SIGTERM. ``spec`` is ``"module:function"``; the function gets the worker index
    and returns an :class:`aiosio.Server` (not listening: the runner feeds it connections).
    """
    count = workers or os.cpu_count() or 1
    if count < 1:
        raise ValueError("workers must be at least 1")
    load_factory(spec)  # fail early on a bad spec
    listener = socket.create_server((host, port), backlog=backlog, reuse_port=False)
    bound_host, bound_port = listener.getsockname()[:2]
    env = {**os.environ, "AIOSIO_WORKERS": str(count)}
    pool = [_Worker(spec, index, env) for index in range(count)]
    stopping = False

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for worker in pool:
            worker.wait_ready(30.0)
        if on_listening is not None:
            on_listening(bound_host, bound_port)
        listener.settimeout(0.2)
        while not stopping:
            try:
                conn, address = listener.accept()
            except TimeoutError:
                conn = None
            except InterruptedError:
                continue
            if conn is not None:
                with conn:
                    index = worker_for(address[0], count)
                    if not pool[index].hand(conn):
                        logger.warning("worker %d unreachable; connection dropped", index)
            for index, worker in enumerate(pool):
                if worker.proc.poll() is not None and not stopping:
                    logger.warning("worker %d exited (%s); starting it again", index,
                                   worker.proc.returncode)  # fmt: skip
                    worker.stop()
                    pool[index] = _Worker(spec, index, env)
                    pool[index].wait_ready(30.0)
    finally:
        listener.close()
        for worker in pool:
            worker.stop()
        deadline = time.monotonic() + 5.0
        for worker in pool:
            try:
                worker.proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                worker.proc.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m aiosio.cluster module:function [--host H] [--port P] [--workers N]``."""
    parser = argparse.ArgumentParser(
        prog="python -m aiosio.cluster", description=__doc__.split("\n")[0]
    )
    parser.add_argument("factory", help="module:function returning the Server of one worker")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=None, help="default: one per CPU")
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--channel-fd", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        _worker(args.factory, args.worker, args.channel_fd)
        return
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")

    def announce(host: str, port: int) -> None:
        print(f"aiosio.cluster: listening on http://{host}:{port}", flush=True)

    run(args.factory, host=args.host, port=args.port, workers=args.workers, on_listening=announce)


if __name__ == "__main__":
    main()
