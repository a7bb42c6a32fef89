"""aiosio with the benchmark handlers, embedded (``io.listen``) or as an ASGI app on uvicorn.

python aiosio_server.py --port 3000          # embedded server
python aiosio_server.py --port 3000 --asgi   # io.asgi_app() on uvicorn
python aiosio_server.py --port 3000 --adapter sharded --url redis://127.0.0.1:6379 --prefix b1
                                             # one node of a cluster (redis, sharded, streams,
                                             # postgres with a postgresql:// URL)
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

from _uvicorn import add_uvicorn_args, serve_asgi

import aiosio


def make_adapter(kind: str, url: str, prefix: str) -> Any:
    """The ``adapter=`` of one cluster node (``None`` for the in-memory default)."""
    if kind == "memory":
        return None
    if kind == "postgres":
        from aiosio.adapters import postgres

        return postgres.create_adapter(url, channel_prefix=prefix)
    from redis.asyncio import Redis

    from aiosio.adapters import redis as redis_adapter
    from aiosio.adapters import redis_streams

    client = Redis.from_url(url)
    if kind == "redis":
        return redis_adapter.create_adapter(client, key=prefix)
    if kind == "sharded":
        return redis_adapter.create_sharded_adapter(client, channel_prefix=prefix)
    if kind == "streams":
        return redis_streams.create_adapter(client, stream_name=prefix, channel_prefix=prefix)
    raise ValueError(f"unknown adapter {kind!r}")


def build(adapter: Any = None) -> aiosio.Server:
    """Return a server with the benchmark handlers."""
    io = aiosio.Server(adapter=adapter) if adapter is not None else aiosio.Server()

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        def echo(*args: Any) -> None:
            socket.emit("echo", *args)

        def echo_ack(*args: Any) -> Any:
            return args[0] if len(args) == 1 else args

        def bcast(*args: Any) -> None:
            io.emit("bcast", *args)

        socket.on("echo", echo)
        socket.on("echo_ack", echo_ack)
        socket.on("bcast", bcast)

    return io


async def serve_embedded(host: str, port: int, adapter: tuple[str, str, str]) -> None:
    """Run the embedded server until SIGTERM/SIGINT."""
    io = build(make_adapter(*adapter))
    bound = await io.listen(port, host)
    sys.stdout.write(f"LISTENING {bound}\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await asyncio.wait_for(io.close(), 5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--asgi", action="store_true", help="serve io.asgi_app() on uvicorn")
    parser.add_argument("--no-uvloop", action="store_true", help="embedded mode on plain asyncio")
    parser.add_argument("--adapter", default="memory", help="redis, sharded, streams, postgres")
    parser.add_argument("--url", default="redis://127.0.0.1:6379", help="the adapter's server")
    parser.add_argument("--prefix", default="socket.io", help="the adapter's channel prefix")
    add_uvicorn_args(parser)
    args = parser.parse_args()
    adapter = (args.adapter, args.url, args.prefix)
    if args.asgi:
        serve_asgi(build().asgi_app(), args)
        return
    if args.no_uvloop:
        asyncio.run(serve_embedded(args.host, args.port, adapter))
        return
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve_embedded(args.host, args.port, adapter))
    else:
        uvloop.run(serve_embedded(args.host, args.port, adapter))


if __name__ == "__main__":
    main()
