"""Closing a broker link: what is buffered goes out while the broker answers; what cannot fails with
``LinkClosedError`` (one warning gives the count), the same for Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest
from redis.asyncio import Redis

from aiosio.adapters._pg_link import PostgresLink
from aiosio.adapters._redis_link import RedisLink
from aiosio.adapters._shared_link import LinkClosedError

MIN_DELAY, MAX_DELAY = 0.01, 0.05


def closed_port() -> int:
    """A local port nobody listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def unsent_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and "messages unsent" in record.getMessage()
    ]


async def test_redis_link_close_fails_what_it_cannot_send(caplog: pytest.LogCaptureFixture) -> None:
    client = Redis(host="127.0.0.1", port=closed_port())
    link = RedisLink(client, retry_min_delay=MIN_DELAY, retry_max_delay=MAX_DELAY)
    link.acquire()
    try:
        futures = [link.send("PUBLISH", "c", str(i)) for i in range(3)]
        await link.close()
        for future in futures:
            assert isinstance(future.exception(), LinkClosedError)
        assert unsent_warnings(caplog) == ["Redis link closed with 3 messages unsent; dropped"]
    finally:
        await client.aclose()


async def test_redis_link_close_flushes_a_hold(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = Redis.from_url(redis_url)
    link = RedisLink(client, retry_min_delay=MIN_DELAY, retry_max_delay=MAX_DELAY)
    link.acquire()
    try:
        assert await link.send("PUBLISH", "warm-up", "0") == 0
        link.hold(30.0)  # as after a Redis Cluster failover
        futures = [link.send("PUBLISH", "c", str(i)) for i in range(3)]
        await asyncio.sleep(0.05)
        assert not any(future.done() for future in futures)
        async with asyncio.timeout(2.0):
            await link.close()
        assert [future.result() for future in futures] == [0, 0, 0]
        assert unsent_warnings(caplog) == []
    finally:
        await client.aclose()


async def test_postgres_link_close_fails_what_it_cannot_send(
    caplog: pytest.LogCaptureFixture,
) -> None:
    link = PostgresLink(
        f"postgresql://postgres@127.0.0.1:{closed_port()}/test",
        retry_min_delay=MIN_DELAY,
        retry_max_delay=MAX_DELAY,
    )
    link.acquire()
    futures = [link.publish("c", {"uid": "u", "type": 1, "data": i}) for i in range(4)]
    await link.close()
    for future in futures:
        assert isinstance(future.exception(), LinkClosedError)
    assert unsent_warnings(caplog) == ["PostgreSQL link closed with 4 messages unsent; dropped"]


async def test_postgres_link_close_flushes(
    postgres_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    link = PostgresLink(postgres_dsn, retry_min_delay=MIN_DELAY, retry_max_delay=MAX_DELAY)
    link.acquire()
    futures = [link.publish("c", {"uid": "u", "type": 1, "data": i}) for i in range(4)]
    await link.close()
    assert [future.result() for future in futures] == [None] * 4
    assert unsent_warnings(caplog) == []
