"""nginx in front of three aiosio servers and Redis: the setup docs/deploy.md describes.

Uses the ``nginx`` binary when it is installed (Debian: ``apt-get install -y nginx``); skipped with a
message otherwise, and failed under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.adapters.cluster_support import eventually
from tests.support.ports import free_port
from tests.support.requires import missing

from .support import Process, SourceClient

NODES = 3

CONFIG = """
{user}
worker_processes 1;
error_log {tmp}/error.log warn;
pid {tmp}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}

    upstream aiosio_nodes {{
        # every request of a client goes to the same node (ip_hash would use only the /24)
        hash $remote_addr consistent;
{servers}
    }}

    server {{
        listen 127.0.0.1:{port};
        location /socket.io/ {{
            proxy_pass http://aiosio_nodes;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_buffering off;
            proxy_read_timeout 60s;
        }}
    }}
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )
    if found is None:
        missing("nginx (Debian: apt-get install -y nginx)")
    return found


@pytest.fixture
async def nginx_cluster(tmp_path: Path, redis_url: str, key: str) -> AsyncIterator[str]:
    binary = nginx_binary()
    ports = [free_port() for _ in range(NODES)]
    env = {"AIOSIO_TEST_REDIS": redis_url, "AIOSIO_TEST_KEY": key}
    nodes = [
        await Process.python("-m", "tests.deploy.cluster_app", str(port), str(index), env=env)
        for index, port in enumerate(ports)
    ]
    front = free_port()
    (tmp_path / "nginx.conf").write_text(
        CONFIG.format(
            user="user root;" if os.geteuid() == 0 else "",
            tmp=tmp_path,
            port=front,
            servers="\n".join(f"        server 127.0.0.1:{port};" for port in ports),
        )
    )
    nginx = await Process.start(
        binary, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"
    )
    try:
        for node in nodes:
            await node.line_starting("listening ")
        await wait_for_port(front)
        yield f"http://127.0.0.1:{front}"
    finally:
        await nginx.stop()
        for node in nodes:
            await node.stop()


async def wait_for_port(port: int) -> None:
    async with asyncio.timeout(10):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return


async def test_nginx_sticky_polling_upgrade_and_cross_node_broadcast(nginx_cluster: str) -> None:
    url = nginx_cluster
    clients: list[SourceClient] = []
    by_worker: dict[int, SourceClient] = {}
    try:
        # clients from many addresses until every node has one
        for last in range(2, 60):
            client = SourceClient(f"127.0.0.{last}")
            clients.append(client)
            await client.sio.connect(url, transports=["polling"], wait_timeout=10)
            worker = (await client.next("hello"))[0]["worker"]
            by_worker.setdefault(worker, client)
            if len(by_worker) == NODES:
                break
        assert sorted(by_worker) == list(range(NODES))
        for worker, client in by_worker.items():
            for _ in range(5):
                where = await client.sio.call("where", timeout=5)
                assert (where["worker"], where["transport"]) == (worker, "polling")
        await by_worker[2].sio.emit("shout", "across")
        for client in clients:
            assert await client.next("all") == ["across", 2]

        upgraded = SourceClient(by_worker[0].source)
        clients.append(upgraded)
        await upgraded.sio.connect(url, transports=["polling", "websocket"], wait_timeout=10)
        await eventually(lambda: upgraded.sio.transport() == "websocket")
        where = await upgraded.sio.call("where", timeout=5)
        assert (where["worker"], where["transport"]) == (0, "websocket")
        await by_worker[1].sio.emit("shout", "to-upgraded")
        assert await upgraded.next("all") == ["to-upgraded", 1]
    finally:
        for client in clients:
            await client.close()
