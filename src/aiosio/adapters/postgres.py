"""The PostgreSQL adapter, wire-compatible with ``@socket.io/postgres-adapter`` (0.5).

Servers exchange the cluster adapter's messages (:mod:`aiosio.adapters.cluster`) with ``NOTIFY`` on one
channel per namespace, ``socket.io#<nsp>`` (``channel_prefix`` changes the first part); responses use the
same channel and the servers that did not ask ignore them. A message is its JSON text, unless it holds
binary or its JSON is over ``payload_threshold`` bytes (8000: ``NOTIFY`` takes less than 8 KB): then it
is stored msgpack-encoded in the ``socket_io_attachments`` table and the notification only says
``{"uid": ..., "type": ..., "attachmentId": "<row id>"}``. Rows older than ``cleanup_interval`` are
deleted every ``cleanup_interval``. Servers know each other by heartbeats (``heartbeat_interval``,
``heartbeat_timeout``), like the reference's ``ClusterAdapterWithHeartbeat``.

Messages published by an emitter (:mod:`aiosio.adapters.postgres_emitter` or
``@socket.io/postgres-emitter``) carry no ``nsp``: the channel says which namespace they are for.

One :class:`~aiosio.adapters._pg_link.PostgresLink` per factory holds two connections per server (see
there for what happens while PostgreSQL is unreachable). Connection state recovery is not supported, as
in the reference (``NOTIFY`` keeps nothing).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiosio.adapters._pg_link import PostgresLink
from aiosio.adapters.base import AdapterNamespace
from aiosio.adapters.cluster import (
    DEFAULT_REQUESTS_TIMEOUT,
    ClusterAdapterWithHeartbeat,
    ClusterMessage,
)

__all__ = ["PostgresAdapter", "PostgresLink", "create_adapter"]


class PostgresAdapter(ClusterAdapterWithHeartbeat):
    """One namespace's adapter over a shared :class:`PostgresLink` (see the module docstring)."""

    __slots__ = ("_link", "channel")

    def __init__(
        self,
        nsp: AdapterNamespace,
        link: PostgresLink,
        *,
        channel_prefix: str = "socket.io",
        **options: Any,
    ) -> None:
        super().__init__(nsp, **options)
        self._link = link
        #: the NOTIFY channel of this namespace
        self.channel = f"{channel_prefix}#{nsp.name}"

    async def _init(self) -> None:
        self._link.acquire()
        await self._link.listen(self.channel, self.uid, self._on_notification)
        self.start()

    def init(self) -> Awaitable[None]:
        return self._init()

    def _on_notification(self, message: dict[str, Any]) -> None:
        self.on_message(message)

    def do_publish(self, message: ClusterMessage) -> Awaitable[str | None]:
        return self._link.publish(self.channel, message)  # no offsets: a future of None

    def do_publish_response(self, requester_uid: str, response: ClusterMessage) -> Awaitable[None]:
        return self._link.publish(self.channel, response)

    async def _close(self) -> None:
        self._link.unlisten(self.channel, self.uid)
        await self._link.release()

    def close(self) -> Awaitable[None] | None:
        if self._closed:
            return None
        super().close()
        return self._close()


def create_adapter(
    dsn: str | PostgresLink | None = None,
    *,
    channel_prefix: str = "socket.io",
    table_name: str = "socket_io_attachments",
    payload_threshold: int = 8000,
    cleanup_interval: float = 30.0,
    heartbeat_interval: float = 5.0,
    heartbeat_timeout: float = 10.0,
    requests_timeout: float = DEFAULT_REQUESTS_TIMEOUT,
    max_buffer: int = 10_000,
    **connect_kwargs: Any,
) -> Callable[[AdapterNamespace], PostgresAdapter]:
    """``Server(adapter=create_adapter("postgresql://user@host/db"))``: the PostgreSQL adapter.

    ``dsn`` and ``connect_kwargs`` go to ``asyncpg.connect`` (or pass a :class:`PostgresLink` to share
    one). The options are the reference's, in seconds. ``max_buffer`` bounds the messages kept while
    PostgreSQL is unreachable; beyond it an emit raises :class:`~aiosio.exceptions.AdapterError`.
    """
    if isinstance(dsn, PostgresLink):
        link = dsn
    else:
        link = PostgresLink(
            dsn,
            table_name=table_name,
            payload_threshold=payload_threshold,
            cleanup_interval=cleanup_interval,
            max_buffer=max_buffer,
            **connect_kwargs,
        )

    def factory(nsp: AdapterNamespace) -> PostgresAdapter:
        return PostgresAdapter(
            nsp,
            link,
            channel_prefix=channel_prefix,
            heartbeat_interval=heartbeat_interval,
            heartbeat_timeout=heartbeat_timeout,
            requests_timeout=requests_timeout,
        )

    return factory
