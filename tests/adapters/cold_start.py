"""Readiness of cluster servers, read from Redis with a client of the test's own.

No server is asked anything before the test uses it (no ``server_count()`` warm-up from the test's
task): what is checked is what another process could see.
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis, RedisCluster

__all__ = ["shard_subscribers", "subscribed", "wait_until_joined", "wait_until_rooms_subscribed"]

WAIT = 10.0


async def subscribed(kind: str, redis: Redis, prefix: str) -> int:
    """How many servers of adapter ``kind`` under ``prefix`` listen to the main namespace's requests."""
    if kind == "redis":
        command, channel = "NUMSUB", f"{prefix}-request#/#"
    elif kind == "sharded":
        command, channel = "SHARDNUMSUB", f"{prefix}#/#"
    elif kind == "streams":
        # requests travel over pub/sub; the channel prefix is the stream name in these tests
        command, channel = "NUMSUB", f"{prefix}#/#"
    else:
        raise ValueError(kind)
    if command == "NUMSUB":
        return int((await redis.pubsub_numsub(channel))[0][1])
    reply = await redis.pubsub_shardnumsub(channel)
    return int(reply[0][1])


async def wait_until_joined(kind: str, redis: Redis, prefix: str, servers: int) -> None:
    """Wait until ``servers`` servers of adapter ``kind`` under ``prefix`` listen to each other."""
    async with asyncio.timeout(WAIT):
        while True:
            if await subscribed(kind, redis, prefix) >= servers:
                return
            await asyncio.sleep(0.02)


async def shard_subscribers(redis: Redis | RedisCluster, channel: str) -> int:
    """How many clients listen to the shard channel ``channel`` (on a cluster, asked of the master
    that owns the channel's slot)."""
    if isinstance(redis, RedisCluster):
        node = redis.get_node_from_key(channel)
        reply = await redis.pubsub_shardnumsub(channel, target_nodes=node)
    else:
        reply = await redis.pubsub_shardnumsub(channel)
    return int(reply[0][1])


async def wait_until_rooms_subscribed(
    redis: Redis | RedisCluster, prefix: str, rooms: list[str]
) -> None:
    """The sharded adapter (``dynamic`` mode, the reference's default) listens to a room's own
    channel once a socket of its server joins the room; a one-room broadcast goes there. Wait until
    each room's channel has a listener."""
    async with asyncio.timeout(WAIT):
        for room in rooms:
            while True:
                if await shard_subscribers(redis, f"{prefix}#/#{room}#") >= 1:
                    break
                await asyncio.sleep(0.02)
