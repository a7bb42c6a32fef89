"""Fixtures of the adapter tests: a cluster of three servers for each adapter kind."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .cluster_support import KINDS, Cluster, start_cluster


@pytest.fixture(params=KINDS)
async def cluster(request: pytest.FixtureRequest) -> AsyncIterator[Cluster]:
    """Three nodes joined by one adapter kind (the in-memory "cluster" is one server three times)."""
    kind: str = request.param
    redis_url = None
    postgres_dsn = None
    if kind == "postgres":
        postgres_dsn = request.getfixturevalue("postgres_dsn")
    elif kind.endswith("@cluster"):
        redis_url = request.getfixturevalue("redis_cluster_url")
    elif kind.endswith("@valkey"):
        redis_url = request.getfixturevalue("valkey_url")
    elif kind not in ("memory", "bus"):
        redis_url = request.getfixturevalue("redis_url")
    started, clients = await start_cluster(kind, redis_url, postgres_dsn=postgres_dsn)
    try:
        yield started
    finally:
        await started.close()
        for client in clients:
            await client.aclose()
