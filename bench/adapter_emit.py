"""CPU per cross-server emit, for each adapter: ``io.to(room).emit()`` with nobody in the room.

    .venv/bin/python bench/adapter_emit.py [N] [memory,redis,sharded,streams,postgres]

One aiosio server (uvloop) per adapter emits ``N`` events to an empty room, then waits until the engine
acknowledged every message (Redis: the replies; PostgreSQL: the statements). Reported: this process's
CPU per emit, which is what publishing costs a server beyond its own clients. Needs Redis on
127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432 (database ``test``).
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
from typing import Any

import uvloop
from redis.asyncio import Redis

from aiosio import Server
from aiosio.adapters import postgres, redis_streams
from aiosio.adapters import redis as redis_adapter
from aiosio.adapters._pg_link import PostgresLink
from aiosio.adapters._redis_link import RedisLink

N = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
REDIS = "redis://127.0.0.1:6379"
PG = "postgresql://postgres@127.0.0.1:5432/test"


async def drained(link: Any) -> None:
    """Until the engine acknowledged every queued message."""
    while True:
        if not link.buffered:
            return
        await asyncio.sleep(0.001)


async def measure(kind: str) -> float:
    prefix = f"e{secrets.token_hex(3)}"
    link: Any = None
    if kind == "postgres":
        link = PostgresLink(PG, max_buffer=N + 100)
        adapter: Any = postgres.create_adapter(link, channel_prefix=prefix)
    elif kind in ("redis", "sharded", "streams"):
        link = RedisLink(Redis.from_url(REDIS), max_buffer=N + 100)
        if kind == "redis":
            adapter = redis_adapter.create_adapter(link, key=prefix)
        elif kind == "sharded":
            adapter = redis_adapter.create_sharded_adapter(link, channel_prefix=prefix)
        else:
            adapter = redis_streams.create_adapter(link, stream_name=prefix, channel_prefix=prefix)
    io = Server(adapter=adapter) if kind != "memory" else Server()
    await io.listen(0, "127.0.0.1")
    await asyncio.sleep(0.5)
    try:
        cpu = time.process_time()
        for i in range(N):
            io.to("nobody").emit("tick", i)
        if link is not None:
            await drained(link)
        return (time.process_time() - cpu) / N * 1e6
    finally:
        await io.close()


async def main() -> None:
    default = ["memory", "redis", "sharded", "streams", "postgres"]
    kinds = sys.argv[2].split(",") if len(sys.argv) > 2 else default
    for kind in kinds:
        print(f"{kind:9} {await measure(kind):6.1f} us CPU per emit", flush=True)


if __name__ == "__main__":
    uvloop.run(main())
