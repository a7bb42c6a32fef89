"""The PostgreSQL connections of one server: a batching NOTIFY publisher and a LISTEN connection.

One :class:`PostgresLink` serves every adapter (namespace) of a server, with two asyncpg connections:

* **publisher** - one connection, one writer task. :meth:`PostgresLink.publish` queues a cluster message
  and returns a future; the writer sends whatever is queued in as few statements as it can: a run of
  notifications goes out as one ``SELECT pg_notify(...) FROM unnest(...)`` (one round trip), cut before
  a payload that the run already holds, because PostgreSQL folds identical notifications of one
  transaction into one. A message holding binary, or whose JSON is over ``payload_threshold`` bytes,
  is stored msgpack-encoded in the attachments table and announced by ``{"uid", "type",
  "attachmentId"}`` (the format of ``@socket.io/postgres-adapter``). While PostgreSQL is unreachable
  up to ``max_buffer`` messages wait; beyond that :meth:`publish` raises
  :class:`~aiosio.exceptions.AdapterError` at once. The writer reconnects with backoff
  (``retry_min_delay`` doubling up to ``retry_max_delay``) and, once connected again, waits
  ``1.5 * retry_max_delay`` so every server's listener (which retries at most that often) is back
  before the backlog goes out: NOTIFY keeps nothing for absent listeners. A batch cut by a dying
  connection is sent again (at-least-once across an outage).
* **listener** - one connection that ``LISTEN``\\ s to every namespace's channel. Notifications are
  decoded in order (an attachment is read from the table on this same connection, and the ones behind
  it wait for it). When the connection dies (PostgreSQL restarted, network cut) it is opened again
  with the same backoff and every channel is listened to again; a health query every
  ``health_interval`` notices a connection that died silently.

The attachments table is created when missing (``create_table``) and rows older than
``cleanup_interval`` are deleted every ``cleanup_interval`` (by the publisher, as the reference does).
Lost and regained connections are logged on ``aiosio.adapter`` (warning, then info).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import re
from collections.abc import Callable
from typing import Any

import asyncpg

from aiosio import _json
from aiosio.adapters._codec import has_binary, pack, unpack
from aiosio.adapters._shared_link import BufferedLink, fail_unsent, flush, stop_tasks
from aiosio.exceptions import AdapterError

__all__ = ["MessageHandler", "PostgresLink"]

logger = logging.getLogger("aiosio.adapter")

#: ``handler(message)`` for a decoded cluster message of a listened channel
MessageHandler = Callable[[dict[str, Any]], None]

_LINK_ERRORS = (
    OSError,
    TimeoutError,
    ConnectionError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
)
_BATCH = 512
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$.]*$")
_NOTIFY_MANY = "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS t(p)"


class _Item:
    """A queued message: its channel, its JSON text or its msgpack attachment, and its future."""

    __slots__ = ("attachment", "channel", "future", "header", "text")

    def __init__(
        self,
        channel: str,
        text: str | None,
        attachment: bytes | None,
        header: dict[str, Any] | None,
        future: asyncio.Future[None],
    ) -> None:
        self.channel = channel
        self.text = text
        self.attachment = attachment
        self.header = header
        self.future = future


class PostgresLink(BufferedLink):
    """Publisher + listener connections to one PostgreSQL, shared by the adapters of a server.

    ``dsn`` and ``connect_kwargs`` are what ``asyncpg.connect`` takes.
    """

    broker = "PostgreSQL"

    def __init__(
        self,
        dsn: str | None = None,
        *,
        table_name: str = "socket_io_attachments",
        payload_threshold: int = 8000,
        cleanup_interval: float = 30.0,
        create_table: bool = True,
        max_buffer: int = 10_000,
        retry_min_delay: float = 0.05,
        retry_max_delay: float = 2.0,
        health_interval: float = 5.0,
        reply_timeout: float = 10.0,
        **connect_kwargs: Any,
    ) -> None:
        if not _IDENTIFIER.match(table_name):
            raise ValueError(f"not a plain table name: {table_name!r}")
        super().__init__(
            max_buffer=max_buffer, retry_min_delay=retry_min_delay, retry_max_delay=retry_max_delay
        )
        self.dsn = dsn
        self.connect_kwargs = connect_kwargs
        self.table_name = table_name
        self.payload_threshold = payload_threshold
        self.cleanup_interval = cleanup_interval
        self.create_table = create_table
        self.health_interval = health_interval
        self.reply_timeout = reply_timeout
        self._queue: collections.deque[_Item] = collections.deque()
        self._wakeup: asyncio.Event | None = None
        self._writer_task: asyncio.Task[None] | None = None
        self._listener_task: asyncio.Task[None] | None = None
        self._cleanup_task: asyncio.Task[None] | None = None
        self._listen_conn: Any = None
        self._listening: set[str] = set()
        self._handlers: dict[str, dict[str, MessageHandler]] = {}
        self._inbox: collections.deque[tuple[str, str]] = collections.deque()
        self._inbox_task: asyncio.Task[None] | None = None
        self._ready: list[asyncio.Future[None]] = []
        self._table_ready = False

    # -- connections --------------------------------------------------------------------------------

    async def _connect(self) -> Any:
        return await asyncpg.connect(self.dsn, **self.connect_kwargs)

    async def _ensure_table(self, conn: Any) -> None:
        if self._table_ready or not self.create_table:
            return
        # another server may create it at the same moment
        with contextlib.suppress(
            asyncpg.exceptions.UniqueViolationError, asyncpg.exceptions.DuplicateTableError
        ):
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table_name} ("
                "id bigserial UNIQUE, created_at timestamptz DEFAULT NOW(), payload bytea)"
            )
        self._table_ready = True

    @property
    def connected(self) -> bool:
        """True while the listener connection is up and listens to every channel."""
        conn = self._listen_conn
        return conn is not None and not conn.is_closed() and self._listening >= set(self._handlers)

    # -- publishing -----------------------------------------------------------------------------------

    def publish(self, channel: str, message: dict[str, Any]) -> asyncio.Future[None]:
        """Queue ``message`` (a cluster message) for ``channel``; the future completes once PostgreSQL
        took it.

        Raises :class:`AdapterError` when the link is closed or ``max_buffer`` messages are pending.
        """
        self._check_room(len(self._queue))
        text: str | None = None
        attachment: bytes | None = None
        header: dict[str, Any] | None = None
        if not has_binary(message.get("data")):
            text = _json.dumps(message)
            if len(text) > self.payload_threshold or (
                len(text) * 4 > self.payload_threshold
                and len(text.encode()) > self.payload_threshold
            ):
                text = None
        if text is None:
            attachment = pack(message)
            header = {"uid": message.get("uid"), "type": message.get("type")}
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.append(_Item(channel, text, attachment, header, future))
        if self._writer_task is None:
            self._wakeup = asyncio.Event()
            self._writer_task = loop.create_task(self._write_loop())
            if self.cleanup_interval > 0:
                self._cleanup_task = loop.create_task(self._cleanup_loop())
        assert self._wakeup is not None
        self._wakeup.set()
        return future

    @property
    def buffered(self) -> int:
        """The number of messages waiting to be written."""
        return len(self._queue)

    async def _write_loop(self) -> None:
        assert self._wakeup is not None
        queue = self._queue
        conn: Any = None
        delay = 0.0
        down = False
        try:
            while not self._closed:
                if not queue:
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                try:
                    if conn is None or conn.is_closed():
                        conn = await self._connect()
                        await self._ensure_table(conn)
                        if down:
                            await self._publisher_back(queue.__len__)
                            down = False
                        delay = 0.0
                    await self._write_batch(conn)
                except _LINK_ERRORS as exc:
                    if conn is not None:
                        conn.terminate()
                        conn = None
                    self._publisher_lost(exc, first=not down)
                    down = True
                    delay = self._backoff(delay)
                    await asyncio.sleep(delay)
                except asyncpg.PostgresError as exc:
                    # refused by the server (not a lost connection): fail this message, go on
                    item = queue.popleft()
                    if not item.future.done():
                        item.future.set_exception(AdapterError(f"PostgreSQL refused: {exc}"))
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 1.0)

    async def _write_batch(self, conn: Any) -> None:
        queue = self._queue
        first = queue[0]
        if first.attachment is not None:
            assert first.header is not None
            async with asyncio.timeout(self.reply_timeout):
                row_id = await conn.fetchval(
                    f"INSERT INTO {self.table_name} (payload) VALUES ($1) RETURNING id",
                    first.attachment,
                )
            # once stored, announce it like any other notification (and never store it twice)
            first.text = _json.dumps({**first.header, "attachmentId": str(row_id)})
            first.attachment = None
        channel = first.channel
        payloads: list[str] = []
        seen: set[str] = set()
        for item in queue:
            text = item.text
            if item.channel != channel or text is None or text in seen or len(payloads) >= _BATCH:
                break
            seen.add(text)
            payloads.append(text)
        async with asyncio.timeout(self.reply_timeout):
            if len(payloads) == 1:
                await conn.execute("SELECT pg_notify($1, $2)", channel, payloads[0])
            else:
                await conn.execute(_NOTIFY_MANY, channel, payloads)
        for _ in payloads:
            item = queue.popleft()
            if not item.future.done():
                item.future.set_result(None)

    async def _cleanup_loop(self) -> None:
        interval = self.cleanup_interval
        while not self._closed:
            await asyncio.sleep(interval)
            try:
                conn = await self._connect()
            except _LINK_ERRORS as exc:
                logger.debug("attachment cleanup skipped: %s", exc)
                continue
            try:
                await conn.execute(
                    f"DELETE FROM {self.table_name} "
                    f"WHERE created_at < now() - interval '{int(interval * 1000)} milliseconds'"
                )
            except (*_LINK_ERRORS, asyncpg.PostgresError) as exc:
                logger.debug("attachment cleanup failed: %s", exc)
            finally:
                with contextlib.suppress(Exception):
                    await conn.close()

    # -- listening ------------------------------------------------------------------------------------

    async def listen(self, channel: str, uid: str, handler: MessageHandler) -> None:
        """Deliver the messages of ``channel`` to ``handler``, except the ones from ``uid`` (this
        adapter). Returns once PostgreSQL listens (or after ``reply_timeout`` while it is
        unreachable: the listener catches up when it reconnects)."""
        if self._closed:
            raise AdapterError("the PostgreSQL link is closed")
        self._handlers.setdefault(channel, {})[uid] = handler
        loop = asyncio.get_running_loop()
        if self._listener_task is None:
            self._listener_task = loop.create_task(self._listen_loop())
        conn = self._listen_conn
        if conn is not None and channel not in self._listening:
            with contextlib.suppress(*_LINK_ERRORS):
                await conn.add_listener(channel, self._on_notify)
                self._listening.add(channel)
        if not self.connected:
            future: asyncio.Future[None] = loop.create_future()
            self._ready.append(future)
            try:
                await asyncio.wait_for(asyncio.shield(future), self.reply_timeout)
            except TimeoutError:
                logger.warning("PostgreSQL does not listen to %s yet", channel)

    def unlisten(self, channel: str, uid: str) -> None:
        """Stop delivering ``channel`` to the adapter ``uid``."""
        handlers = self._handlers.get(channel)
        if handlers is None:
            return
        handlers.pop(uid, None)
        if handlers:
            return
        del self._handlers[channel]
        conn = self._listen_conn
        if conn is not None and channel in self._listening:
            self._listening.discard(channel)
            task = asyncio.get_running_loop().create_task(
                conn.remove_listener(channel, self._on_notify)
            )
            task.add_done_callback(_ignore_result)

    async def _listen_loop(self) -> None:
        delay = 0.0
        down = False
        while not self._closed:
            conn: Any = None
            lost = asyncio.Event()
            try:
                conn = await self._connect()
                conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await self._ensure_table(conn)
                self._listening = set()
                for channel in list(self._handlers):
                    await conn.add_listener(channel, self._on_notify)
                    self._listening.add(channel)
                self._listen_conn = conn
                for future in self._ready:
                    if not future.done():
                        future.set_result(None)
                self._ready.clear()
                if down:
                    logger.info(
                        "PostgreSQL listener reconnected; %d channels listened to again",
                        len(self._listening),
                    )
                    down = False
                delay = 0.0
                while not self._closed:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), self.health_interval)
                    if lost.is_set() or conn.is_closed():
                        raise ConnectionError("the connection was closed")
                    await asyncio.wait_for(conn.execute("SELECT 1"), self.reply_timeout)
            except _LINK_ERRORS as exc:
                if self._closed:
                    break
                if not down:
                    logger.warning(
                        "PostgreSQL listener lost its connection (%s); reconnecting", exc
                    )
                    down = True
                self._listen_conn = None
                if conn is not None:
                    conn.terminate()
                delay = self._backoff(delay)
                await asyncio.sleep(delay)
            finally:
                self._listen_conn = None
                if conn is not None and not conn.is_closed():
                    conn.terminate()

    def _on_notify(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        if self._inbox or '"attachmentId"' in payload:
            # an attachment (or messages queued behind one): read them in order
            self._inbox.append((channel, payload))
            if self._inbox_task is None or self._inbox_task.done():
                self._inbox_task = asyncio.get_running_loop().create_task(self._drain_inbox())
            return
        self._dispatch(channel, payload, None)

    async def _drain_inbox(self) -> None:
        inbox = self._inbox
        while inbox:
            channel, payload = inbox[0]
            attachment: bytes | None = None
            if '"attachmentId"' in payload:
                attachment = await self._fetch_attachment(channel, payload)
            inbox.popleft()
            self._dispatch(channel, payload, attachment)

    async def _fetch_attachment(self, channel: str, payload: str) -> bytes | None:
        try:
            header = _json.loads(payload)
            attachment_id = int(header["attachmentId"])
            handlers = self._handlers.get(channel, {})
            if header.get("uid") in handlers:
                return None  # our own message: no need to read it back
            conn = self._listen_conn
            if conn is None:
                raise AdapterError("the listener is not connected")
            row: bytes | None = await asyncio.wait_for(
                conn.fetchval(
                    f"SELECT payload FROM {self.table_name} WHERE id = $1", attachment_id
                ),
                self.reply_timeout,
            )
        except Exception as exc:
            logger.warning("could not read attachment of %r: %s", payload[:200], exc)
            return None
        return row

    def _dispatch(self, channel: str, payload: str, attachment: bytes | None) -> None:
        handlers = self._handlers.get(channel)
        if not handlers:
            return
        try:
            message = unpack(attachment) if attachment is not None else _json.loads(payload)
        except Exception:
            logger.debug("dropped a malformed notification on %s", channel)
            return
        if not isinstance(message, dict) or "attachmentId" in message:
            return
        sender = message.get("uid")
        for uid, handler in list(handlers.items()):
            if uid == sender:
                continue
            try:
                handler(message)
            except Exception:
                logger.exception("a PostgreSQL message handler raised")

    # -- life cycle -----------------------------------------------------------------------------------

    def _reopen(self) -> None:
        self._writer_task = None
        self._listener_task = None
        self._cleanup_task = None

    async def close(self) -> None:
        """Stop both connections. Messages still buffered are written while PostgreSQL answers, for a
        second at most; the rest fail with :class:`~aiosio.adapters._shared_link.LinkClosedError` (one
        warning gives their count)."""
        if self._closed:
            return
        if self._queue and self._writer_task is not None:
            await flush(self._queue.__len__, lambda: self._publisher_down)
        self._closed = True
        await stop_tasks(
            self._writer_task, self._listener_task, self._cleanup_task, self._inbox_task
        )
        unsent = [item.future for item in self._queue]
        self._queue.clear()
        fail_unsent("PostgreSQL", unsent)
        for future in self._ready:
            future.cancel()
        self._ready.clear()
        self._inbox.clear()


def _ignore_result(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.debug("UNLISTEN failed: %s", task.exception())
