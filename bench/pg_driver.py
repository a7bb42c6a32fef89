"""Which PostgreSQL driver carries LISTEN/NOTIFY best: asyncpg or psycopg 3 (async).

For each driver: one connection LISTENs, another publishes ``N`` notifications of a cluster-message-sized
JSON payload in order (asyncpg: one ``pg_notify`` per round trip, the only ordered form it has, since
``executemany`` runs in one transaction and PostgreSQL folds identical notifications of a transaction;
psycopg: pipeline mode with a sync point after each statement, so each stays its own transaction).
Reports wall time, notifications/s and this process's CPU per notification (publishing and receiving
in one process, as a server does). Run: ``.venv/bin/python bench/pg_driver.py [dsn] [N]``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import asyncpg
import psycopg

DSN = sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/test"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
CHANNEL = "bench#/"
PAYLOAD = json.dumps(
    {
        "uid": "a1b2c3d4e5f6a7b8",
        "nsp": "/",
        "type": 3,
        "data": {
            "packet": {"type": 2, "data": ["tick", {"n": 1, "text": "hello"}], "nsp": "/"},
            "opts": {"rooms": [], "except": [], "flags": {}},
        },
    },
    separators=(",", ":"),
)


async def run_asyncpg() -> tuple[float, float]:
    got = 0
    done = asyncio.Event()

    def on_notify(*_: Any) -> None:
        nonlocal got
        got += 1
        if got == N:
            done.set()

    listener = await asyncpg.connect(DSN)
    publisher = await asyncpg.connect(DSN)
    await listener.add_listener(CHANNEL, on_notify)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(N):
        await publisher.execute("SELECT pg_notify($1, $2)", CHANNEL, PAYLOAD)
    await asyncio.wait_for(done.wait(), 60)
    result = time.process_time() - cpu, time.perf_counter() - wall
    await listener.close()
    await publisher.close()
    return result


async def run_asyncpg_batched() -> tuple[float, float]:
    got = 0
    done = asyncio.Event()

    def on_notify(*_: Any) -> None:
        nonlocal got
        got += 1
        if got == N:
            done.set()

    listener = await asyncpg.connect(DSN)
    publisher = await asyncpg.connect(DSN)
    await listener.add_listener(CHANNEL, on_notify)
    # distinct payloads: one statement (one transaction) would fold identical ones
    payloads = [PAYLOAD.replace('"n":1', f'"n":{i}') for i in range(N)]
    cpu, wall = time.process_time(), time.perf_counter()
    batch = 256
    for start in range(0, N, batch):
        await publisher.execute(
            "SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS t(p, i) ORDER BY i",
            CHANNEL,
            payloads[start : start + batch],
        )
    await asyncio.wait_for(done.wait(), 60)
    result = time.process_time() - cpu, time.perf_counter() - wall
    await listener.close()
    await publisher.close()
    return result


async def run_psycopg() -> tuple[float, float]:
    listener = await psycopg.AsyncConnection.connect(DSN, autocommit=True)
    publisher = await psycopg.AsyncConnection.connect(DSN, autocommit=True)
    await listener.execute(f'LISTEN "{CHANNEL}"')

    async def receive() -> None:
        got = 0
        async for _ in listener.notifies():
            got += 1
            if got == N:
                return

    receiver = asyncio.create_task(receive())
    await asyncio.sleep(0.1)
    cpu, wall = time.process_time(), time.perf_counter()
    batch = 256
    cur = publisher.cursor()
    for start in range(0, N, batch):
        async with publisher.pipeline() as pipeline:
            for _ in range(min(batch, N - start)):
                await cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, PAYLOAD))
                await pipeline.sync()
    await asyncio.wait_for(receiver, 60)
    result = time.process_time() - cpu, time.perf_counter() - wall
    await listener.close()
    await publisher.close()
    return result


async def dedup_check() -> int:
    """How many of two identical notifications sent in one psycopg pipeline (sync each) arrive."""
    listener = await psycopg.AsyncConnection.connect(DSN, autocommit=True)
    publisher = await psycopg.AsyncConnection.connect(DSN, autocommit=True)
    await listener.execute('LISTEN "dedup"')
    async with publisher.pipeline() as pipeline:
        for _ in range(2):
            await publisher.execute("SELECT pg_notify('dedup', 'same')")
            await pipeline.sync()
    got = 0
    try:
        async with asyncio.timeout(0.5):
            async for _ in listener.notifies():
                got += 1
    except TimeoutError:
        pass
    await listener.close()
    await publisher.close()
    return got


async def main() -> None:
    print(f"{N} notifications of {len(PAYLOAD)} bytes, published and received in one process")
    for name, run in (
        ("asyncpg", run_asyncpg),
        ("asyncpg, 256 per statement", run_asyncpg_batched),
        ("psycopg", run_psycopg),
    ):
        cpu, wall = await run()
        print(
            f"{name:28} {wall:6.2f} s  {N / wall:8.0f} notif/s  {cpu / N * 1e6:6.1f} us CPU/notif"
        )
    print(f"psycopg pipeline with a sync per statement delivers {await dedup_check()}/2 duplicates")


if __name__ == "__main__":
    asyncio.run(main())
