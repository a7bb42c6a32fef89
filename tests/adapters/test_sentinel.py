"""Redis Sentinel: the master fails over mid-traffic; the adapters follow the sentinel to the new master.

Two aiosio servers use ``redis.asyncio.sentinel.Sentinel(...).master_for(...)`` clients. One server emits a
numbered tick every 10 ms while ``SENTINEL FAILOVER`` promotes the replica; the other server's client
counts what arrives. The ticks lost in the switch are reported (and bounded); everything emitted once
both servers are on the new master arrives, in both directions.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Any

import pytest
from redis.asyncio.sentinel import Sentinel

from aiosio.adapters import redis as redis_adapter
from aiosio.adapters import redis_streams
from aiosio.adapters._redis_link import RedisLink
from aiosio.server import Server
from tests.support.redis_sentinel import SERVICE, RedisSentinelSetup

from .cluster_support import Cluster, eventually, wait_for_servers

FAST_RETRY: dict[str, Any] = {
    "retry_min_delay": 0.02,
    "retry_max_delay": 0.2,
    "subscribe_timeout": 2.0,
}
TICK = 0.01


def make_adapter(kind: str, link: RedisLink, prefix: str) -> Any:
    if kind == "redis":
        return redis_adapter.create_adapter(link, key=prefix, requests_timeout=1.0)
    if kind == "sharded":
        return redis_adapter.create_sharded_adapter(
            link, channel_prefix=prefix, requests_timeout=1.0
        )
    return redis_streams.create_adapter(
        link, stream_name=prefix, channel_prefix=prefix, requests_timeout=1.0, block_time=0.5
    )


@pytest.mark.parametrize(
    ("kind", "how"),
    [
        ("redis", "failover"),
        ("sharded", "failover"),
        ("streams", "failover"),
        ("redis", "kill"),
        ("streams", "kill"),
    ],
)
async def test_failover_mid_traffic(
    redis_sentinel: RedisSentinelSetup, kind: str, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aiosio.adapter")
    prefix = f"t{secrets.token_hex(4)}"
    sentinel = Sentinel([("127.0.0.1", redis_sentinel.sentinel_port)], socket_timeout=1.0)  # type: ignore[no-untyped-call]
    clients = [sentinel.master_for(SERVICE, socket_timeout=5.0) for _ in range(2)]
    links = [RedisLink(client, **FAST_RETRY) for client in clients]
    nodes = [Server(adapter=make_adapter(kind, link, prefix)) for link in links]
    urls = [f"http://127.0.0.1:{await io.listen(0, '127.0.0.1')}" for io in nodes]
    master_url = f"redis://127.0.0.1:{redis_sentinel.master_port}"
    cluster = Cluster(kind, nodes, urls, redis_url=master_url, prefix=prefix)
    stop = asyncio.Event()
    emitted = 0

    async def ticker() -> None:
        nonlocal emitted
        while not stop.is_set():
            nodes[0].emit("tick", emitted)
            emitted += 1
            await asyncio.sleep(TICK)

    try:
        await wait_for_servers(cluster)
        a = await cluster.connect(0, "a")
        b = await cluster.connect(1, "b")
        task = asyncio.create_task(ticker())
        await b.expect("tick", count=20)
        started = time.monotonic()
        old_master = redis_sentinel.master_port
        new_master = await redis_sentinel.failover(kill=how == "kill")
        assert new_master == redis_sentinel.replica_port != old_master
        switched = time.monotonic() - started
        on_new_master = ("127.0.0.1", new_master)
        await eventually(
            lambda: all(link.subscriber_address == on_new_master for link in links), within=10
        )
        moved = time.monotonic() - started
        marker = emitted
        # catches up past the switch (what was lost does not count)
        await eventually(lambda: any(args[0] >= marker for args in b.received("tick")), within=15)
        stop.set()
        await task
        nodes[0].emit("done")  # after every tick on the same connection: all that comes is in
        await b.expect("done", timeout=10)
        got = sorted({args[0] for args in b.received("tick")})
        lost = sorted(set(range(emitted)) - set(got))
        assert set(range(marker, emitted)) <= set(got), "lost after both servers moved"
        # a bounded loss: only ticks emitted in the switch (classic pub/sub keeps nothing)
        assert len(lost) <= (time.monotonic() - started) / TICK
        nodes[1].emit("back", 1)
        assert await a.expect("back") == [[1]]
        assert sorted(s.id for s in await nodes[0].fetch_sockets()) == sorted([a.sid, b.sid])
        print(
            f"\n{kind}, {how}: failover took {switched:.2f} s, both servers on the new master after "
            f"{moved:.2f} s; {emitted} ticks, {len(lost)} lost "
            f"({lost[:3]}...{lost[-3:]})"
        )
    finally:
        stop.set()
        await cluster.close()
        for client in clients:
            await client.aclose()
    messages = [record.getMessage() for record in caplog.records]
    assert any("reconnected" in m for m in messages)
