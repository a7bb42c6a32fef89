"""Slots that move and masters that fail while traffic runs: the Redis Cluster link follows them.

Redis Clusters of their own (three masters; three masters and three replicas for the failover) so the
moves do not disturb the other tests. The slot of the
channel (sharded adapter) or of the stream (streams adapter) in use is migrated to another master with the
``CLUSTER SETSLOT`` / ``MIGRATE`` procedure ``redis-cli --cluster reshard`` runs, while one server
broadcasts a numbered message every few milliseconds; the clients of the other servers count what
arrives. The losses measured are printed (``pytest -s``) and bounded by the assertions:

* streams: nothing is lost (``XADD`` redirected through the cluster client, the reader resumes on the new
  owner after the last entry it read);
* sharded: publishes are all accepted (redirected); what Redis published on the channel between the
  slot leaving the old master and the subscription on the new one is lost (pub/sub keeps nothing).

The failover kills the master of that slot: its replica takes over after the node timeout, each server
notices (its link to the dead master is down), reads the slot map until it names the new master, and
moves its subscriptions and buffered commands there.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from redis.asyncio import Redis, RedisCluster
from redis.crc import key_slot

from aiosio.server import Server
from tests.support.redis_cluster import RedisCluster as LocalRedisCluster

from .cluster_support import Client, Cluster, adapter_factory, eventually

#: messages broadcast while the slot moves, and the pause between two
MESSAGES = 300
INTERVAL = 0.005


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[LocalRedisCluster]:
    if not LocalRedisCluster.available():
        pytest.fail("redis-server and redis-cli are needed")
    cluster = LocalRedisCluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


async def run(node: Redis, *args: Any) -> Any:
    """One command on one node of the cluster."""
    return await node.execute_command(*args)  # type: ignore[no-untyped-call]


async def slot_owner(ports: list[int], slot: int) -> int:
    """The port of the master that serves ``slot`` (as the first node sees it)."""
    node = Redis(host="127.0.0.1", port=ports[0])
    try:
        for start, end, master, *_ in await run(node, "CLUSTER", "SLOTS"):
            if int(start) <= slot <= int(end):
                return int(master[1])
    finally:
        await node.aclose()
    raise AssertionError(f"nobody serves slot {slot}")


async def move_slot(ports: list[int], slot: int, target: int) -> float:
    """Migrate ``slot`` (and its keys) to the master on port ``target``; returns the seconds the
    slot was in migration (from ``IMPORTING`` to the last ``SETSLOT NODE``)."""
    source = await slot_owner(ports, slot)
    assert source != target
    nodes = {port: Redis(host="127.0.0.1", port=port) for port in ports}
    try:
        ids = {port: (await run(node, "CLUSTER", "MYID")).decode() for port, node in nodes.items()}
        start = time.perf_counter()
        await run(nodes[target], "CLUSTER", "SETSLOT", slot, "IMPORTING", ids[source])
        await run(nodes[source], "CLUSTER", "SETSLOT", slot, "MIGRATING", ids[target])
        while keys := await run(nodes[source], "CLUSTER", "GETKEYSINSLOT", slot, 100):
            await run(nodes[source], "MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *keys)
        # the new owner first, then the old one (which drops its shard subscribers), then the rest
        order = [target, source, *(port for port in ports if port not in (source, target))]
        for port in order:
            await run(nodes[port], "CLUSTER", "SETSLOT", slot, "NODE", ids[target])
        return time.perf_counter() - start
    finally:
        for node in nodes.values():
            await node.aclose()


def moving_key(kind: str, prefix: str) -> str:
    """The key / shard channel whose slot the test moves."""
    if kind == "streams@cluster":
        return prefix  # the stream's name
    return f"{prefix}#/#"  # the sharded adapter's namespace channel


@pytest.fixture
def replicated_cluster() -> Iterator[LocalRedisCluster]:
    """Three masters, each with a replica; a new one for each test (the test kills a master)."""
    if not LocalRedisCluster.available():
        pytest.fail("redis-server and redis-cli are needed")
    cluster = LocalRedisCluster(replicas=1, node_timeout=1000)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["sharded@cluster", "streams@cluster"])
async def moving(
    request: pytest.FixtureRequest, own_cluster: LocalRedisCluster
) -> AsyncIterator[tuple[Cluster, list[Client]]]:
    async with servers(request.param, own_cluster) as started:
        yield started


@pytest.fixture(params=["sharded@cluster", "streams@cluster"])
async def failing(
    request: pytest.FixtureRequest, replicated_cluster: LocalRedisCluster
) -> AsyncIterator[tuple[Cluster, list[Client]]]:
    async with servers(request.param, replicated_cluster) as started:
        yield started


@contextlib.asynccontextmanager
async def servers(
    kind: str, own_cluster: LocalRedisCluster
) -> AsyncIterator[tuple[Cluster, list[Client]]]:
    """Three servers of ``kind`` on ``own_cluster``, clients on the second and third."""
    prefix = f"t{secrets.token_hex(4)}"
    clients: list[RedisCluster] = []
    nodes: list[Server] = []
    urls: list[str] = []
    for _ in range(3):
        client = RedisCluster.from_url(own_cluster.url)
        clients.append(client)
        io = Server(adapter=adapter_factory(kind, client, prefix, None))
        urls.append(f"http://127.0.0.1:{await io.listen(0, '127.0.0.1')}")
        nodes.append(io)
    cluster = Cluster(kind, nodes, urls, redis_url=own_cluster.url, prefix=prefix)
    try:
        for node in nodes:
            await eventually(node.sockets.adapter.server_count, lambda n: n == 3)
        receivers = [await cluster.connect(1, "b"), await cluster.connect(2, "c")]
        await eventually(lambda: all(node.sockets.adapter.connected for node in nodes))  # type: ignore[attr-defined]
        yield cluster, receivers
    finally:
        await cluster.close()
        for client in clients:
            await client.aclose()


def losses(
    kind: str, receivers: list[Client], sent_at: dict[int, float], since: float
) -> dict[str, Any]:
    """What each receiver missed of the numbered messages ``n`` (checked to be sent after ``since``)."""
    report: dict[str, Any] = {"kind": kind}
    for client in receivers:
        got = {args[0] for args in client.received("n")}
        lost = sorted(set(sent_at) - got)
        duplicates = len(client.received("n")) - len(got)
        window = round((sent_at[lost[-1]] - sent_at[lost[0]]) * 1000, 1) if lost else 0.0
        order = [args[0] for args in client.received("n")]
        late = sum(1 for before, after in itertools.pairwise(order) if after < before)
        report[client.name] = {
            "lost": len(lost),
            "window_ms": window,
            "duplicates": duplicates,
            "out_of_order": late,
        }
        if lost:
            assert sent_at[lost[0]] >= since - 0.05, report
    return report


async def test_broadcasts_follow_a_slot_move(
    moving: tuple[Cluster, list[Client]],
    own_cluster: LocalRedisCluster,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="aiosio.adapter")
    cluster, receivers = moving
    ports = own_cluster.ports
    slot = key_slot(moving_key(cluster.kind, cluster.prefix).encode())
    source = await slot_owner(ports, slot)
    target = next(port for port in ports if port != source)
    sender = cluster.nodes[0]

    sent_at: dict[int, float] = {}

    async def traffic() -> None:
        for i in range(MESSAGES):
            sender.emit("n", i)
            sent_at[i] = time.perf_counter()
            await asyncio.sleep(INTERVAL)

    task = asyncio.get_running_loop().create_task(traffic())
    await asyncio.sleep(MESSAGES * INTERVAL / 3)
    moved_at = time.perf_counter()
    migration = await move_slot(ports, slot, target)
    await task
    assert await slot_owner(ports, slot) == target

    # after the move the channel / stream works both ways on the new owner
    sender.emit("after", 1)
    for client in receivers:
        await client.expect("after", timeout=10.0)
    cluster.nodes[2].emit("after-other", 2)
    for client in receivers:
        await client.expect("after-other", timeout=10.0)
    await asyncio.sleep(0.3)  # redirected stragglers
    for node in cluster.nodes:
        assert await node.sockets.adapter.server_count() == 3

    report = losses(cluster.kind, receivers, sent_at, moved_at)
    report["migration_ms"] = round(migration * 1000, 1)
    for client in receivers:
        assert report[client.name]["duplicates"] == 0
        if cluster.kind == "streams@cluster":
            assert report[client.name]["lost"] == 0, report
        else:
            # bounded: the time it takes to read the slot map and subscribe on the new master
            assert report[client.name]["lost"] <= MESSAGES // 10, report
    print(f"\nslot move under traffic: {report}")
    # the subscribers / the stream readers were redirected, not merely lucky
    messages = [record.getMessage() for record in caplog.records]
    needle = "stream reader redirected" if "streams" in cluster.kind else "moved the slot of"
    assert sum(needle in message for message in messages) >= 2, messages
    if "streams" in cluster.kind:
        # and the sender's XADD were redirected to the new master
        assert any("Redis Cluster redirected" in message for message in messages), messages


async def master_and_replica(ports: list[int], slot: int) -> tuple[int, int] | None:
    """The ports of the master of ``slot`` and of its replica (``None`` until the replica is known)."""
    node = Redis(host="127.0.0.1", port=ports[0])
    try:
        for start, end, master, *replicas in await run(node, "CLUSTER", "SLOTS"):
            if int(start) <= slot <= int(end):
                return (int(master[1]), int(replicas[0][1])) if replicas else None
    finally:
        await node.aclose()
    raise AssertionError(f"nobody serves slot {slot}")


async def test_broadcasts_follow_a_failover(
    failing: tuple[Cluster, list[Client]],
    replicated_cluster: LocalRedisCluster,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="aiosio.adapter")
    cluster, receivers = failing
    ports = replicated_cluster.ports
    slot = key_slot(moving_key(cluster.kind, cluster.prefix).encode())
    master, replica = await eventually(lambda: master_and_replica(ports, slot), within=15.0)
    sender = cluster.nodes[0]
    count, interval = 400, 0.01

    sent_at: dict[int, float] = {}

    async def traffic() -> None:
        for i in range(count):
            sender.emit("n", i)
            sent_at[i] = time.perf_counter()
            await asyncio.sleep(interval)

    task = asyncio.get_running_loop().create_task(traffic())
    await asyncio.sleep(0.5)
    killed_at = time.perf_counter()
    replicated_cluster.kill(master)
    await task
    live = [port for port in ports if port != master]
    await eventually(lambda: slot_owner(live, slot), lambda port: port == replica, within=15.0)
    promoted_after = time.perf_counter() - killed_at

    sender.emit("after", 1)
    for client in receivers:
        await client.expect("after", timeout=15.0)
    await asyncio.sleep(0.3)
    for node in cluster.nodes:
        assert await node.sockets.adapter.server_count() == 3

    report = losses(cluster.kind, receivers, sent_at, killed_at)
    report["promoted_after_s"] = round(promoted_after, 2)
    print(f"\nfailover under traffic: {report}")
    for client in receivers:
        got = {args[0] for args in client.received("n")}
        # deliveries resumed: the last messages all arrived
        assert set(range(count - 20, count)) <= got, report
        # buffered for the dead master, then sent to the new one once every server subscribed
        # there: only what the dead master had taken in as it died may be gone
        assert report[client.name]["lost"] <= 5, report
    messages = [record.getMessage() for record in caplog.records]
    assert any("new master" in message for message in messages), messages
