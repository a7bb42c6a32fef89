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

from aiosio.adapters import redis as redis_adapter
from aiosio.adapters import redis_streams
from aiosio.adapters._redis_cluster_link import RedisClusterLink
from aiosio.adapters._shared_link import LinkClosedError
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


def start_traffic(
    sender: Server, count: int, interval: float
) -> tuple[asyncio.Task[None], dict[int, float]]:
    """Broadcast ``"n", i`` for i in range(count), ``interval`` seconds apart, in a task; the dict
    fills with the time each one was sent (what :func:`losses` reads)."""
    sent_at: dict[int, float] = {}

    async def traffic() -> None:
        for i in range(count):
            sender.emit("n", i)
            sent_at[i] = time.perf_counter()
            await asyncio.sleep(interval)

    return asyncio.get_running_loop().create_task(traffic()), sent_at


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

    task, sent_at = start_traffic(sender, MESSAGES, INTERVAL)
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

    task, sent_at = start_traffic(sender, count, interval)
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


# -- the tuning options, set where users set them ----------------------------------------------------


def test_cluster_options_are_validated(own_cluster: LocalRedisCluster) -> None:
    client = RedisCluster.from_url(own_cluster.url)
    plain = Redis.from_url(own_cluster.url)
    for factory in (
        redis_adapter.create_adapter,
        redis_adapter.create_sharded_adapter,
        redis_streams.create_adapter,
    ):
        for bad in (0, -1.0, float("nan"), True):
            with pytest.raises(ValueError, match="topology_check_interval must be a positive"):
                factory(client, topology_check_interval=bad)
            with pytest.raises(ValueError, match="redirect_hold must be a positive"):
                factory(client, redirect_hold=bad)
        # Redis Cluster options on a single Redis: refused, not ignored
        with pytest.raises(ValueError, match="for a RedisCluster client only"):
            factory(plain, redirect_hold=0.5)
        factory(client, topology_check_interval=0.5, redirect_hold=0.2)


def free_room(prefix: str, taken: list[str]) -> str:
    """A room whose sharded channel is in none of the slots of the ``taken`` channels."""
    slots = {key_slot(channel.encode()) for channel in taken}
    for i in itertools.count():
        room = f"r{i}"
        if key_slot(f"{prefix}#/#{room}#".encode()) not in slots:
            return room
    raise AssertionError


@pytest.mark.parametrize("hold", [0.05, 1.2])
async def test_redirect_hold_set_on_the_factory(
    own_cluster: LocalRedisCluster, hold: float
) -> None:
    """A broadcast the old owner of its slot answers with MOVED is written on the new owner after
    the ``redirect_hold`` given to ``create_sharded_adapter``."""
    prefix = f"t{secrets.token_hex(4)}"
    clients = [RedisCluster.from_url(own_cluster.url) for _ in range(3)]
    sender = Server(
        adapter=redis_adapter.create_sharded_adapter(
            clients[0], channel_prefix=prefix, redirect_hold=hold
        )
    )
    receiver = Server(
        adapter=redis_adapter.create_sharded_adapter(clients[1], channel_prefix=prefix)
    )
    await sender.listen(0, "127.0.0.1")
    port = await receiver.listen(0, "127.0.0.1")
    # the sender subscribes to its namespace channel and its response channel only: the room's
    # slot must be another, or the sender would follow the move before it publishes
    uid = sender.sockets.adapter.uid  # type: ignore[attr-defined]
    room = free_room(prefix, [f"{prefix}#/#", f"{prefix}#/#{uid}#"])
    channel = f"{prefix}#/#{room}#"
    receiver.on("connection", lambda socket: socket.join(room))
    client = Client("x")
    try:
        await client.connect(f"http://127.0.0.1:{port}")
        count = lambda: clients[2].execute_command("PUBSUB", "SHARDNUMSUB", channel)  # noqa: E731
        await eventually(count, lambda reply: int(reply[1]) == 1)
        sender.to(room).emit("before", 0)  # the sender's link learns the slot's present owner
        await client.expect("before")
        slot = key_slot(channel.encode())
        source = await slot_owner(own_cluster.ports, slot)
        target = next(port for port in own_cluster.ports if port != source)
        await move_slot(own_cluster.ports, slot, target)
        fresh = RedisCluster.from_url(own_cluster.url)
        try:
            # the receiver followed the move
            await eventually(
                lambda: fresh.execute_command("PUBSUB", "SHARDNUMSUB", channel),
                lambda reply: int(reply[1]) == 1,
            )
        finally:
            await fresh.aclose()
        started = time.perf_counter()
        sender.to(room).emit("after", 1)  # MOVED, then the hold, then the new owner
        await client.expect("after", timeout=10.0)
        elapsed = time.perf_counter() - started
        print(f"\nredirect_hold={hold}: delivered after {elapsed:.3f} s")
        assert elapsed >= hold
        if hold < 0.1:
            assert elapsed < 0.9  # the default hold would be 0.1; 1.2 is the other case
    finally:
        await client.close()
        await sender.close()
        await receiver.close()
        for redis_client in clients:
            await redis_client.aclose()


# -- closing while a master fails over ----------------------------------------------------------------


async def test_close_during_a_failover(
    replicated_cluster: LocalRedisCluster, caplog: pytest.LogCaptureFixture
) -> None:
    """Closing the link fails what is buffered for a dead master with ``LinkClosedError`` (a warning
    with the count), and writes what waits in the failover hold on the new master at once."""
    caplog.set_level(logging.INFO, logger="aiosio.adapter")
    ports = replicated_cluster.ports
    channel = f"t{secrets.token_hex(4)}"
    slot = key_slot(channel.encode())
    master, replica = await eventually(lambda: master_and_replica(ports, slot), within=15.0)
    clients = [RedisCluster.from_url(replicated_cluster.url) for _ in range(2)]
    # a long check interval: the buffered commands wait 3 s on the new master before going out
    early, late = (RedisClusterLink(client, topology_check_interval=2.0) for client in clients)
    subscriber = Redis(host="127.0.0.1", port=replica)
    pubsub = subscriber.pubsub()
    try:
        for link in (early, late):
            link.acquire()
            await link.initialize()
            assert await link.send("SPUBLISH", channel, "warm-up") == 0
        replicated_cluster.kill(master)
        dropped = [early.send("SPUBLISH", channel, f"e{i}") for i in range(5)]
        held = [late.send("SPUBLISH", channel, f"l{i}") for i in range(10)]

        # closed before the replica took over: nothing can go out
        await early.close()
        await asyncio.wait(dropped, timeout=1.0)
        for future in dropped:
            assert isinstance(future.exception(), LinkClosedError)
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("closed with 5 messages unsent" in message for message in warnings), warnings

        # the other link hands its backlog to the new master, which holds it
        await eventually(
            lambda: [r for r in caplog.records if "go to the new masters" in r.getMessage()],
            within=20.0,
        )
        assert not any(future.done() for future in held)
        await pubsub.execute_command("SSUBSCRIBE", channel)
        assert (await pubsub.parse_response(timeout=5.0))[0] == b"ssubscribe"
        started = time.perf_counter()
        await late.close()
        closed_in = time.perf_counter() - started
        await asyncio.wait(held, timeout=1.0)
        # flushed, not dropped: the hold (3 s) was cut short
        assert [future.result() for future in held] == [1] * 10
        assert closed_in < 2.0, closed_in
        received: list[str] = []
        while len(received) < 10:
            reply = await pubsub.parse_response(timeout=5.0)
            assert reply is not None, received
            received.append(reply[2].decode())
        assert received == [f"l{i}" for i in range(10)]
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await subscriber.aclose()
        for client in clients:
            await client.aclose()


@pytest.mark.parametrize("interval", [0.2, 2.0])
async def test_topology_check_interval_set_on_the_factory(
    replicated_cluster: LocalRedisCluster, caplog: pytest.LogCaptureFixture, interval: float
) -> None:
    """The broadcast buffered for a dead master goes out on its successor ``1.5 *
    topology_check_interval`` after the server moved it there, the interval given to
    ``create_sharded_adapter``."""
    caplog.set_level(logging.INFO, logger="aiosio.adapter")
    prefix = f"t{secrets.token_hex(4)}"
    ports = replicated_cluster.ports
    slot = key_slot(f"{prefix}#/#".encode())
    master, replica = await eventually(lambda: master_and_replica(ports, slot), within=15.0)
    clients = [RedisCluster.from_url(replicated_cluster.url) for _ in range(2)]
    sender, receiver = (
        Server(
            adapter=redis_adapter.create_sharded_adapter(
                client, channel_prefix=prefix, topology_check_interval=interval
            )
        )
        for client in clients
    )
    await sender.listen(0, "127.0.0.1")
    port = await receiver.listen(0, "127.0.0.1")
    client = Client("x")
    try:
        await client.connect(f"http://127.0.0.1:{port}")
        await eventually(sender.sockets.adapter.server_count, lambda n: n == 2)
        sender.emit("before", 0)
        await client.expect("before")
        replicated_cluster.kill(master)
        sender.emit("during", 1)  # buffered for the dead master
        await client.expect("during", timeout=20.0)
        delivered = time.time()
        moved = [r for r in caplog.records if "go to the new masters" in r.getMessage()]
        assert moved, [r.getMessage() for r in caplog.records]
        held = delivered - moved[0].created
        print(f"\ntopology_check_interval={interval}: delivered {held:.2f} s after the move")
        assert held >= 1.5 * interval - 0.05
        if interval < 1.0:
            assert held < 1.5  # the default interval would hold it 1.5 s
        assert await slot_owner([p for p in ports if p != master], slot) == replica
    finally:
        await client.close()
        await sender.close()
        await receiver.close()
        for redis_client in clients:
            await redis_client.aclose()
