"""aiosio with the benchmark handlers, embedded (``io.listen``) or as an ASGI app on uvicorn.

python aiosio_server.py --port 3000          # embedded server
python aiosio_server.py --port 3000 --asgi   # io.asgi_app() on uvicorn
python aiosio_server.py --port 3000 --async-handlers   # echo handlers as ``async def``
python aiosio_server.py --port 3000 --per-message-deflate   # permessage-deflate on
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


def build(
    async_handlers: bool = False,
    metrics: bool = False,
    max_write_buffer_size: int | None = None,
    adapter: Any = None,
    per_message_deflate: Any = False,
) -> aiosio.Server:
    """Return a server with the benchmark handlers (``async def`` ones with ``async_handlers``,
    Prometheus metrics when ``metrics``, and the given cluster ``adapter``)."""
    options: dict[str, Any] = {}
    if max_write_buffer_size is not None:
        options["max_write_buffer_size"] = max_write_buffer_size
    if adapter is not None:
        options["adapter"] = adapter
    if per_message_deflate:
        options["per_message_deflate"] = per_message_deflate
    io = aiosio.Server(**options)
    if metrics:
        from aiosio.metrics import Metrics

        io.route("/metrics", Metrics(io).handler)

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        def echo(*args: Any) -> None:
            socket.emit("echo", *args)

        def echo_ack(*args: Any) -> Any:
            return args[0] if len(args) == 1 else args

        async def async_echo(*args: Any) -> None:
            socket.emit("echo", *args)

        async def async_echo_ack(*args: Any) -> Any:
            return args[0] if len(args) == 1 else args

        def bcast(*args: Any) -> None:
            io.emit("bcast", *args)

        socket.on("echo", async_echo if async_handlers else echo)
        socket.on("echo_ack", async_echo_ack if async_handlers else echo_ack)
        socket.on("bcast", bcast)

    return io


def build_from(args: argparse.Namespace) -> aiosio.Server:
    """The server the command line asks for."""
    return build(
        args.async_handlers,
        args.metrics,
        args.max_write_buffer_size,
        make_adapter(args.adapter, args.url, args.prefix),
        args.per_message_deflate,
    )


async def serve_embedded(host: str, port: int, args: argparse.Namespace) -> None:
    """Run the embedded server until SIGTERM/SIGINT."""
    io = build_from(args)
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
    parser.add_argument("--async-handlers", action="store_true", help="async def echo handlers")
    parser.add_argument("--metrics", action="store_true", help="count Prometheus metrics")
    parser.add_argument("--max-write-buffer-size", type=int, default=None)
    parser.add_argument(
        "--per-message-deflate", action="store_true", help="WebSocket compression (RFC 7692)"
    )
    parser.add_argument("--adapter", default="memory", help="redis, sharded, streams, postgres")
    parser.add_argument("--url", default="redis://127.0.0.1:6379", help="the adapter's server")
    parser.add_argument("--prefix", default="socket.io", help="the adapter's channel prefix")
    add_uvicorn_args(parser)
    args = parser.parse_args()
    if args.asgi:
        serve_asgi(build_from(args).asgi_app(), args)
        return
    main_coro = serve_embedded(args.host, args.port, args)
    if args.no_uvloop:
        asyncio.run(main_coro)
        return
    try:
        import uvloop
    except ImportError:
        asyncio.run(main_coro)
    else:
        uvloop.run(main_coro)


if __name__ == "__main__":
    main()
