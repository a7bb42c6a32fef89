"""Prometheus metrics for a server (``pip install 'aiosio[metrics]'``).

::

    from aiosio.metrics import Metrics

    metrics = Metrics(io)                   # registers with prometheus_client's default registry
    io.route("/metrics", metrics.handler)   # on the embedded server and the ASGI app
    # or mount metrics.asgi_app() in any ASGI framework

What it costs: the hooks keep plain integer counters (no lock, no label lookup per message) and the
Prometheus families are built when they are scraped. Messages and bytes are counted by the Engine.IO
sessions themselves (:meth:`~aiosio.engine.socket.EngineSocket.count_traffic`: a few additions per
message); gauges (clients, sockets per namespace) are read at scrape time and cost nothing in
between. ``docs/observability.md`` has the measured overhead on the echo benchmark.

Metrics (with the default ``prefix="socketio"``):

* ``socketio_connected_sockets{namespace}``, ``socketio_engine_clients{transport}`` (gauges);
* ``socketio_handshakes_total{transport}``, ``socketio_upgrades_total``,
  ``socketio_disconnects_total{reason,transport}`` (Engine.IO sessions);
* ``socketio_namespace_connects_total{namespace}``,
  ``socketio_namespace_disconnects_total{namespace,reason}``;
* ``socketio_messages_received_total``, ``socketio_messages_sent_total``,
  ``socketio_bytes_received_total``, ``socketio_bytes_sent_total`` (Engine.IO messages: events,
  acknowledgements and binary attachments);
* with ``events_by_namespace=True``: ``socketio_events_received_total{namespace}`` and
  ``socketio_events_sent_total{namespace}`` (one more call per event);
* ``socketio_handler_errors_total``: handlers that raised (counted from the server's error log
  records, so nothing is added to handler calls);
* ``socketio_handler_duration_seconds{event}`` (histogram) for the handlers wrapped with
  :meth:`Metrics.timed`;
* ``socketio_write_buffer_overflows_total``: sessions closed because a client did not read;
* ``socketio_adapter_requests_total``, ``socketio_adapter_request_seconds_total``,
  ``socketio_adapter_errors_total``: requests to the other servers of a cluster (Redis, PostgreSQL,
  ...) and adapter failures (failed requests and the adapter's error log records).
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from aiosio.adapters import _requests

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

    from aiosio.engine.http import Request, Response
    from aiosio.engine.socket import EngineSocket
    from aiosio.server.namespace import Namespace
    from aiosio.server.server import Server
    from aiosio.server.socket import Socket

__all__ = ["Metrics"]

F = TypeVar("F", bound=Callable[..., Any])

_OVERFLOW = "write buffer overflow"
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Traffic:
    """The message counters of the sessions already closed (the open ones keep their own)."""

    __slots__ = ("bytes_in", "bytes_out", "msgs_in", "msgs_out")

    def __init__(self) -> None:
        self.msgs_in = 0
        self.msgs_out = 0
        self.bytes_in = 0
        self.bytes_out = 0


class _ErrorCounter(logging.Handler):
    """Counts the log records with a traceback (server) or at WARNING and above (adapter)."""

    def __init__(self, level: int, needs_traceback: bool) -> None:
        super().__init__(level)
        self.count = 0
        self.needs_traceback = needs_traceback

    def emit(self, record: logging.LogRecord) -> None:
        if not self.needs_traceback or record.exc_info:
            self.count += 1


class Metrics:
    """Prometheus metrics of one :class:`~aiosio.server.Server`; a ``prometheus_client`` collector."""

    def __init__(
        self,
        io: Server,
        *,
        registry: CollectorRegistry | None = None,
        prefix: str = "socketio",
        events_by_namespace: bool = False,
        buckets: tuple[float, ...] = _BUCKETS,
    ) -> None:
        try:
            import prometheus_client
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ImportError(
                "metrics need prometheus_client: pip install 'aiosio[metrics]'"
            ) from exc
        self.io = io
        self.prefix = prefix
        self.events_by_namespace = events_by_namespace
        self.registry = registry if registry is not None else prometheus_client.REGISTRY
        self.traffic = _Traffic()
        self.handshakes: dict[str, int] = {}
        self.upgrades = 0
        self.disconnects: dict[tuple[str, str], int] = {}
        self.overflows = 0
        self.namespace_connects: dict[str, int] = {}
        self.namespace_disconnects: dict[tuple[str, str], int] = {}
        self.events_in: dict[str, int] = {}
        self.events_out: dict[str, int] = {}
        self.adapter_requests = 0
        self.adapter_seconds = 0.0
        self.adapter_failures = 0
        self._buckets = tuple(sorted(buckets))
        #: event -> (bucket counts, count, sum) of the handlers wrapped with :meth:`timed`
        self.durations: dict[str, tuple[list[int], list[float]]] = {}
        self._handler_errors = _ErrorCounter(logging.ERROR, needs_traceback=True)
        self._adapter_errors = _ErrorCounter(logging.WARNING, needs_traceback=False)
        logging.getLogger("aiosio.server").addHandler(self._handler_errors)
        logging.getLogger("aiosio.adapter").addHandler(self._adapter_errors)
        _requests.request_observers.append(self._on_request)
        io.engine.on("connection", self._on_engine_connection)
        for nsp in io.namespaces.values():
            self._watch(nsp)
        io.on("new_namespace", self._watch)
        self.registry.register(self)

    def close(self) -> None:
        """Stop counting and unregister from the registry."""
        logging.getLogger("aiosio.server").removeHandler(self._handler_errors)
        logging.getLogger("aiosio.adapter").removeHandler(self._adapter_errors)
        if self._on_request in _requests.request_observers:
            _requests.request_observers.remove(self._on_request)
        self.registry.unregister(self)

    # -- hooks ------------------------------------------------------------------------------------

    def _on_engine_connection(self, conn: EngineSocket) -> None:
        transport = conn.transport
        self.handshakes[transport] = self.handshakes.get(transport, 0) + 1

        def on_upgrade(name: str) -> None:
            self.upgrades += 1

        def on_close(reason: str, description: Any = None) -> None:
            traffic = self.traffic
            traffic.msgs_in += conn.messages_received
            traffic.bytes_in += conn.bytes_received
            traffic.msgs_out += conn.messages_sent
            traffic.bytes_out += conn.bytes_sent
            key = (reason, conn.transport)
            self.disconnects[key] = self.disconnects.get(key, 0) + 1
            if description == _OVERFLOW:
                self.overflows += 1

        conn.count_traffic()
        conn.on("upgrade", on_upgrade)
        conn.on("close", on_close)

    def _watch(self, nsp: Namespace) -> None:
        name = nsp.name
        events_in = self.events_in
        events_out = self.events_out

        def on_connection(socket: Socket) -> None:
            self.namespace_connects[name] = self.namespace_connects.get(name, 0) + 1

            def on_disconnect(reason: str, description: Any = None) -> None:
                key = (name, reason)
                self.namespace_disconnects[key] = self.namespace_disconnects.get(key, 0) + 1

            socket.on("disconnect", on_disconnect)
            if self.events_by_namespace:

                def on_any(*args: Any) -> None:
                    events_in[name] = events_in.get(name, 0) + 1

                def on_any_outgoing(*args: Any) -> None:
                    events_out[name] = events_out.get(name, 0) + 1

                socket.on_any(on_any)
                socket.on_any_outgoing(on_any_outgoing)

        nsp.on("connection", on_connection)

    def _on_request(self, seconds: float, error: BaseException | None) -> None:
        self.adapter_requests += 1
        self.adapter_seconds += seconds
        if error is not None:
            self.adapter_failures += 1

    # -- handler timing ---------------------------------------------------------------------------

    def _observe(self, event: str, seconds: float) -> None:
        entry = self.durations.get(event)
        if entry is None:
            entry = self.durations[event] = ([0] * len(self._buckets), [0, 0.0])
        counts, totals = entry
        for i, bound in enumerate(self._buckets):
            if seconds <= bound:
                counts[i] += 1
                break
        totals[0] += 1
        totals[1] += seconds

    def timed(self, event: str) -> Callable[[F], F]:
        """Decorate a handler to record its duration under ``event`` (coroutines until they end)::

        @socket.on("chat")
        @metrics.timed("chat")
        async def chat(text: str) -> str: ...
        """

        def decorate(fn: F) -> F:
            if inspect.iscoroutinefunction(fn):

                @functools.wraps(fn)
                async def timed_coroutine(*args: Any) -> Any:
                    start = time.perf_counter()
                    try:
                        return await fn(*args)
                    finally:
                        self._observe(event, time.perf_counter() - start)

                return timed_coroutine  # type: ignore[return-value]

            @functools.wraps(fn)
            def timed_function(*args: Any) -> Any:
                start = time.perf_counter()
                try:
                    return fn(*args)
                finally:
                    self._observe(event, time.perf_counter() - start)

            return timed_function  # type: ignore[return-value]

        return decorate

    # -- exposition -------------------------------------------------------------------------------

    def collect(self) -> Iterator[Any]:
        """The metric families, built from the counters now (``prometheus_client`` calls it)."""
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        p = self.prefix
        sockets = GaugeMetricFamily(
            f"{p}_connected_sockets", "Sockets connected, by namespace", labels=["namespace"]
        )
        for nsp in self.io.namespaces.values():
            sockets.add_metric([nsp.name], len(nsp.sockets))
        yield sockets
        clients = GaugeMetricFamily(
            f"{p}_engine_clients", "Engine.IO sessions open, by transport", labels=["transport"]
        )
        by_transport: dict[str, int] = {"polling": 0, "websocket": 0}
        for conn in list(self.io.engine.clients.values()):
            by_transport[conn.transport] = by_transport.get(conn.transport, 0) + 1
        for transport, count in by_transport.items():
            clients.add_metric([transport], count)
        yield clients

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            return CounterMetricFamily(f"{p}_{name}", doc, value=value)

        handshakes = CounterMetricFamily(
            f"{p}_handshakes", "Engine.IO handshakes, by transport", labels=["transport"]
        )
        for transport, count in self.handshakes.items():
            handshakes.add_metric([transport], count)
        yield handshakes
        yield counter("upgrades", "Upgrades from polling to WebSocket", self.upgrades)
        disconnects = CounterMetricFamily(
            f"{p}_disconnects",
            "Engine.IO sessions closed, by reason and transport",
            labels=["reason", "transport"],
        )
        for (reason, transport), count in self.disconnects.items():
            disconnects.add_metric([reason, transport], count)
        yield disconnects
        connects = CounterMetricFamily(
            f"{p}_namespace_connects", "Sockets connected, by namespace", labels=["namespace"]
        )
        for name, count in self.namespace_connects.items():
            connects.add_metric([name], count)
        yield connects
        leaves = CounterMetricFamily(
            f"{p}_namespace_disconnects",
            "Sockets disconnected, by namespace and reason",
            labels=["namespace", "reason"],
        )
        for (name, reason), count in self.namespace_disconnects.items():
            leaves.add_metric([name, reason], count)
        yield leaves
        t = self.traffic
        msgs_in, bytes_in, msgs_out, bytes_out = t.msgs_in, t.bytes_in, t.msgs_out, t.bytes_out
        for conn in list(self.io.engine.clients.values()):  # the open sessions' own counters
            msgs_in += conn.messages_received
            bytes_in += conn.bytes_received
            msgs_out += conn.messages_sent
            bytes_out += conn.bytes_sent
        yield counter("messages_received", "Engine.IO messages received", msgs_in)
        yield counter("messages_sent", "Engine.IO messages sent", msgs_out)
        yield counter("bytes_received", "Bytes of the messages received", bytes_in)
        yield counter("bytes_sent", "Bytes of the messages sent", bytes_out)
        if self.events_by_namespace:
            for direction, table in (("received", self.events_in), ("sent", self.events_out)):
                family = CounterMetricFamily(
                    f"{p}_events_{direction}",
                    f"Socket.IO events {direction}, by namespace",
                    labels=["namespace"],
                )
                for name, count in table.items():
                    family.add_metric([name], count)
                yield family
        yield counter(
            "handler_errors", "Handlers that raised (error log records)", self._handler_errors.count
        )
        durations = HistogramMetricFamily(
            f"{p}_handler_duration_seconds", "Handler duration, by event", labels=["event"]
        )
        for event, (counts, (total, seconds)) in self.durations.items():
            cumulative = 0
            buckets: list[tuple[str, float]] = []
            for bound, count in zip(self._buckets, counts, strict=True):
                cumulative += count
                buckets.append((repr(bound), cumulative))
            buckets.append(("+Inf", total))
            durations.add_metric([event], buckets, seconds)
        yield durations
        yield counter(
            "write_buffer_overflows",
            "Sessions closed because the client did not read",
            self.overflows,
        )
        yield counter(
            "adapter_requests",
            "Requests to the other servers of the cluster",
            self.adapter_requests,
        )
        yield counter(
            "adapter_request_seconds", "Time spent waiting for them", self.adapter_seconds
        )
        yield counter(
            "adapter_errors",
            "Failed requests and adapter error log records",
            self.adapter_failures + self._adapter_errors.count,
        )

    def exposition(self) -> bytes:
        """The registry's metrics in the Prometheus text format."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry)

    def handler(self, request: Request, respond: Callable[[Response], None]) -> None:
        """A plain HTTP handler for :meth:`aiosio.Server.route`: ``io.route("/metrics", ...)``."""
        from prometheus_client import CONTENT_TYPE_LATEST

        from aiosio.engine.http import Response

        respond(Response(200, [("Content-Type", CONTENT_TYPE_LATEST)], self.exposition()))

    def asgi_app(self) -> Any:
        """An ASGI app serving this registry (``prometheus_client.make_asgi_app``)."""
        from prometheus_client import make_asgi_app

        return make_asgi_app(self.registry)
