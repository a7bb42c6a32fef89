"""The application the deployment tests run on several processes: one aiosio server per worker.

Configured by the environment: ``AIOSIO_TEST_REDIS`` (Redis URL), ``AIOSIO_TEST_KEY`` (channel prefix),
and ``AIOSIO_TEST_PORT`` (only for :func:`main`, a node listening on its own port).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from redis.asyncio import Redis

from aiosio.adapters.redis import create_adapter
from aiosio.serve import run, wait_for_shutdown_signal
from aiosio.server import Server, Socket


def make_server(worker: int) -> Server:
    """The server of worker ``worker``."""
    redis = Redis.from_url(os.environ["AIOSIO_TEST_REDIS"])
    io = Server(
        adapter=create_adapter(redis, key=os.environ["AIOSIO_TEST_KEY"]),
        ping_interval=1.0,
        ping_timeout=2.0,
    )

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        socket.emit("hello", {"worker": worker, "pid": os.getpid()})

        @socket.on("where")
        def where() -> dict[str, Any]:
            return {"worker": worker, "pid": os.getpid(), "transport": socket.conn.transport}

        @socket.on("shout")
        def shout(text: str) -> None:
            io.emit("all", text, worker)

    return io


async def _serve_one(port: int, worker: int) -> None:
    io = make_server(worker)
    bound = await io.listen(port, "127.0.0.1")
    print(f"listening {bound}", flush=True)
    await wait_for_shutdown_signal()
    await io.close()


def main() -> None:
    """One node on ``sys.argv[1]`` (port), worker index ``sys.argv[2]``."""
    run(_serve_one(int(sys.argv[1]), int(sys.argv[2])))


if __name__ == "__main__":
    main()
