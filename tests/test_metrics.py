"""Prometheus metrics of a live server, scraped over HTTP from both hosts."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import socketio
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from aiosio.exceptions import AckTimeoutError
from aiosio.metrics import Metrics
from aiosio.server import Server, Socket

pytestmark = pytest.mark.timeout(30)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def make_server(registry: CollectorRegistry) -> tuple[Server, Metrics]:
    io = Server(max_write_buffer_size=4000)
    metrics = Metrics(io, registry=registry, events_by_namespace=True)

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        @socket.on("echo")
        @metrics.timed("echo")
        async def echo(text: str) -> str:
            await asyncio.sleep(0.01)
            return text

        @socket.on("boom")
        async def boom() -> None:
            await asyncio.sleep(0)
            raise RuntimeError("boom")

        @socket.on("flood")
        def flood() -> None:
            for _ in range(5):
                socket.emit("big", "x" * 2000)

    io.of("/chat")
    io.route("/metrics", metrics.handler)
    return io, metrics


async def test_metrics_count_a_session() -> None:
    registry = CollectorRegistry()
    io, metrics = make_server(registry)
    left: asyncio.Queue[str] = asyncio.Queue()

    @io.on("connection")
    def watch(socket: Socket) -> None:
        socket.on("disconnect", lambda reason: left.put_nowait(reason))

    port = await io.listen(0)
    url = f"http://127.0.0.1:{port}"
    ws = socketio.AsyncClient(reconnection=False)
    polled = socketio.AsyncClient(reconnection=False)
    try:
        await ws.connect(url, transports=["websocket"], namespaces=["/", "/chat"])
        await polled.connect(url, transports=["polling"])
        async with httpx.AsyncClient() as http:
            found = samples((await http.get(url + "/metrics")).text)
            assert value(found, "socketio_connected_sockets", namespace="/") == 2
            assert value(found, "socketio_connected_sockets", namespace="/chat") == 1
            assert value(found, "socketio_engine_clients", transport="websocket") == 1
            assert value(found, "socketio_engine_clients", transport="polling") == 1
            assert value(found, "socketio_handshakes_total", transport="websocket") == 1
            assert value(found, "socketio_handshakes_total", transport="polling") == 1
            before_in = value(found, "socketio_messages_received_total")
            before_bytes = value(found, "socketio_bytes_received_total")

            for _ in range(3):
                assert await ws.call("echo", "hello", timeout=5) == "hello"
            await ws.emit("boom")
            await polled.emit("flood")
            async with asyncio.timeout(5):
                assert await left.get() == "transport error"  # the flooded polling client
            await ws.disconnect()
            async with asyncio.timeout(5):
                await left.get()
            assert io.engine.clients_count == 0

            found = samples((await http.get(url + "/metrics")).text)
        assert value(found, "socketio_messages_received_total") >= before_in + 4
        # "42" + '["echo","hello"]' with its ack id: at least 17 bytes each
        assert value(found, "socketio_bytes_received_total") >= before_bytes + 3 * 17
        assert value(found, "socketio_messages_sent_total") >= 3
        assert value(found, "socketio_events_received_total", namespace="/") == 5
        assert value(found, "socketio_handler_errors_total") == 1
        assert value(found, "socketio_handler_duration_seconds_count", event="echo") == 3
        assert value(found, "socketio_handler_duration_seconds_sum", event="echo") >= 0.03
        assert (
            value(found, "socketio_handler_duration_seconds_bucket", event="echo", le="0.001") == 0
        )
        assert value(found, "socketio_write_buffer_overflows_total") == 1
        assert (
            value(
                found, "socketio_disconnects_total", reason="transport error", transport="polling"
            )
            == 1
        )
        chat_gone = sum(
            v
            for (name, labels), v in found.items()
            if name == "socketio_namespace_disconnects_total" and ("namespace", "/chat") in labels
        )
        assert chat_gone == 1
        assert value(found, "socketio_connected_sockets", namespace="/") == 0
    finally:
        await ws.disconnect()
        await polled.disconnect()
        await io.close()
        metrics.close()


async def test_metrics_route_on_the_asgi_app() -> None:
    registry = CollectorRegistry()
    io, metrics = make_server(registry)
    transport = httpx.ASGITransport(app=io.asgi_app())
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            answer = await http.get("/metrics")
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/plain")
            found = samples(answer.text)
            assert value(found, "socketio_connected_sockets", namespace="/chat") == 0
            assert ("socketio_upgrades_total", ()) in found
        mounted = httpx.ASGITransport(app=metrics.asgi_app())
        async with httpx.AsyncClient(transport=mounted, base_url="http://test") as http:
            assert "socketio_handshakes" in (await http.get("/")).text
    finally:
        await io.close()
        metrics.close()


async def test_adapter_requests_are_counted(redis_url: str) -> None:
    import secrets

    from redis.asyncio import Redis

    from aiosio.adapters.redis import create_adapter

    key = "metrics-test-" + secrets.token_hex(4)
    clients = [Redis.from_url(redis_url), Redis.from_url(redis_url)]
    servers = [
        Server(adapter=create_adapter(client, key=key, requests_timeout=0.5)) for client in clients
    ]
    registry = CollectorRegistry()
    metrics = Metrics(servers[0], registry=registry)
    try:
        for io in servers:
            await io.listen(0)
        assert await servers[0].fetch_sockets() == []
        found = samples(metrics.exposition().decode())
        assert value(found, "socketio_adapter_requests_total") == 1
        assert value(found, "socketio_adapter_request_seconds_total") > 0
        assert value(found, "socketio_adapter_errors_total") == 0
        # the other server has no handler for it, so it never answers
        with pytest.raises(AckTimeoutError):
            await servers[0].server_side_emit_with_ack("nobody-listens")
        found = samples(metrics.exposition().decode())
        assert value(found, "socketio_adapter_requests_total") == 2
        assert value(found, "socketio_adapter_errors_total") == 1
    finally:
        for io in servers:
            await io.close()
        for client in clients:
            await client.aclose()
        metrics.close()
