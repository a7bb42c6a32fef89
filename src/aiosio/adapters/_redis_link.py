"""The Redis connections of one server: a pipelined publisher and a subscriber, both self-healing.

One :class:`RedisLink` serves every adapter (namespace) of a server:

* **publisher** - one connection, one writer task. ``send(*command)`` queues a command and returns a
  future of its reply; the writer pipelines whatever is queued in one round trip. When Redis is
  unreachable the queue keeps up to ``max_buffer`` commands and the writer reconnects with backoff
  (``retry_min_delay`` doubling up to ``retry_max_delay``) and sends them in order once Redis answers
  again, ``1.5 * retry_max_delay`` after it reconnected: by then every server's subscriber, which retries
  at most every ``retry_max_delay``, had its chance to subscribe again (pub/sub keeps nothing for
  absent subscribers). A command that would exceed the bound raises
  :class:`~aiosio.exceptions.AdapterError` to its caller at once. A batch cut by a dying connection
  is sent again: across an outage delivery is at-least-once.
* **subscriber** - one connection in subscribed state, one reader task. Channels, patterns and shard
  channels are remembered; after a reconnect all of them are subscribed again before messages flow.
* **Sentinel** - with a client from ``Sentinel.master_for(...)`` both connections are opened on the
  master the sentinels name; every ``sentinel_check_interval`` the link asks them again and, after a
  failover, drops the connections still open on the old master (now a replica, which would keep
  taking ``PUBLISH`` for its own subscribers only): they reconnect to the new one.
* **commands** - ``command(*args)`` runs a request/response command (``PUBSUB NUMSUB``, ``XRANGE``...)
  on the application's own client; failures raise :class:`~aiosio.exceptions.AdapterError`.

Lost and regained connections are logged on ``aiosio.adapter`` (warning, then info).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
from collections.abc import Callable
from typing import Any, Literal

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.crc import key_slot
from redis.exceptions import AskError, RedisError, ResponseError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from aiosio.adapters._shared_link import BufferedLink, fail_unsent, flush, stop_tasks
from aiosio.exceptions import AdapterError

__all__ = ["Handler", "RedisLink", "SubscriptionKind"]

logger = logging.getLogger("aiosio.adapter")

SubscriptionKind = Literal["channel", "pattern", "shard"]
#: ``handler(channel, payload)`` for a message on a subscribed channel / pattern / shard channel
Handler = Callable[[str, bytes], None]

_SUBSCRIBE = {"channel": "SUBSCRIBE", "pattern": "PSUBSCRIBE", "shard": "SSUBSCRIBE"}
_UNSUBSCRIBE = {"channel": "UNSUBSCRIBE", "pattern": "PUNSUBSCRIBE", "shard": "SUNSUBSCRIBE"}
_CONFIRM: dict[bytes, SubscriptionKind] = {
    b"subscribe": "channel",
    b"psubscribe": "pattern",
    b"ssubscribe": "shard",
}
_LINK_ERRORS = (
    TimeoutError,
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    asyncio.IncompleteReadError,
    EOFError,
)
_BATCH = 2048
_REDIRECTIONS = (AskError, TryAgainError)  # MovedError is an AskError


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class RedisLink(BufferedLink):
    """Publisher + subscriber connections to one Redis, shared by the adapters of a server.

    ``client`` is the application's ``redis.asyncio.Redis`` (it must not decode responses); the link
    opens its own two connections with the same settings.
    """

    broker = "Redis"

    def __init__(
        self,
        client: Redis,
        *,
        max_buffer: int = 10_000,
        retry_min_delay: float = 0.05,
        retry_max_delay: float = 2.0,
        subscribe_timeout: float = 5.0,
        reply_timeout: float = 10.0,
        sentinel_check_interval: float = 1.0,
    ) -> None:
        kwargs = client.get_connection_kwargs()  # type: ignore[no-untyped-call]
        if kwargs.get("decode_responses"):
            raise ValueError("the Redis client must not decode responses (decode_responses=False)")
        super().__init__(
            max_buffer=max_buffer, retry_min_delay=retry_min_delay, retry_max_delay=retry_max_delay
        )
        self.client = client
        self.subscribe_timeout = subscribe_timeout
        self.reply_timeout = reply_timeout
        self.sentinel_check_interval = sentinel_check_interval
        self._queue: collections.deque[tuple[tuple[Any, ...], asyncio.Future[Any]]] = (
            collections.deque()
        )
        self._wakeup: asyncio.Event | None = None
        self._writer_task: asyncio.Task[None] | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._sub_conn: AbstractConnection | None = None
        self._pub_conn: AbstractConnection | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._master: tuple[str, int] | None = None
        self._handlers: dict[SubscriptionKind, dict[str, Handler]] = {
            "channel": {},
            "pattern": {},
            "shard": {},
        }
        self._confirmations: dict[tuple[SubscriptionKind, str], list[asyncio.Future[None]]] = {}
        self._unconfirmed = 0
        self._hold_until = 0.0
        self._hold_cut: asyncio.Event | None = None
        #: set by a Redis Cluster link: called with a shard subscription the node dropped (its slot
        #: moved to another master: an unsolicited ``sunsubscribe``, or ``SSUBSCRIBE`` refused with
        #: ``MOVED``); the link no longer holds it
        self.on_moved: Callable[[SubscriptionKind, str, Handler], None] | None = None
        #: set by a Redis Cluster link: called with ``(self, command, future)`` for a command refused
        #: with ``MOVED`` / ``ASK`` / ``TRYAGAIN``, instead of failing its future
        self.on_redirect: (
            Callable[[RedisLink, tuple[Any, ...], asyncio.Future[Any]], None] | None
        ) = None

    # -- connections --------------------------------------------------------------------------------

    async def initialize(self) -> None:
        """Nothing to learn before the first command (a Redis Cluster link reads its slot map)."""

    def new_connection(self, key: str | None = None) -> AbstractConnection:
        """A new connection (not connected yet) with the client's settings, for a reader of its own
        (``key`` names the key it will read; one Redis serves them all)."""
        return self._new_connection()

    def _new_connection(self) -> AbstractConnection:
        pool = self.client.connection_pool
        # RESP2: pub/sub messages arrive as plain replies (RESP3 would route them to push handlers)
        kwargs = {
            key: value
            for key, value in pool.connection_kwargs.items()
            if not key.startswith("maint_notifications")
        }
        kwargs["protocol"] = 2
        conn: AbstractConnection = pool.connection_class(**kwargs)
        # the link retries on its own terms; the connection must fail fast
        conn.retry = Retry(NoBackoff(), 0)
        return conn

    @property
    def connected(self) -> bool:
        """True while the subscriber connection is up and Redis confirmed its subscriptions."""
        return self._sub_conn is not None and self._unconfirmed == 0

    @property
    def subscriber_address(self) -> tuple[str, int] | None:
        """``(host, port)`` of the Redis the subscriber connection is on (``None`` while down)."""
        conn = self._sub_conn
        if conn is None or self._unconfirmed:
            return None
        host, port = getattr(conn, "host", None), getattr(conn, "port", None)
        return (str(host), int(port)) if host is not None and port is not None else None

    # -- publishing -----------------------------------------------------------------------------------

    def send(self, *command: Any) -> asyncio.Future[Any]:
        """Queue ``command`` for the publisher; the future gets the reply (or the Redis error).

        Raises :class:`AdapterError` when the link is closed or ``max_buffer`` commands are pending.
        """
        self._check_room(len(self._queue))
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((command, future))
        if self._writer_task is None:
            self._wakeup = asyncio.Event()
            self._writer_task = loop.create_task(self._write_loop())
            self._watch_sentinel()
        assert self._wakeup is not None
        self._wakeup.set()
        return future

    @property
    def buffered(self) -> int:
        """The number of commands waiting to be written."""
        return len(self._queue)

    @property
    def down(self) -> bool:
        """True while the publisher cannot reach Redis, or the subscriber has subscriptions to make
        and no connection."""
        if self._publisher_down:
            return True
        waiting = any(self._handlers.values())
        return waiting and self._reader_task is not None and self._sub_conn is None

    def hold(self, seconds: float) -> None:
        """Write nothing for ``seconds`` (what is sent meanwhile waits, in order)."""
        self._hold_until = asyncio.get_running_loop().time() + seconds

    def release_hold(self) -> None:
        """End a :meth:`hold` now (the writer sends what waits)."""
        self._hold_until = 0.0
        if self._hold_cut is not None:
            self._hold_cut.set()

    def take_pending(self) -> list[tuple[tuple[Any, ...], asyncio.Future[Any]]]:
        """Hand over the commands waiting for a publisher that has no connection (to send them
        elsewhere: a Redis Cluster master that failed over); empty while the publisher is connected."""
        if self._pub_conn is not None:
            return []
        pending = list(self._queue)
        self._queue.clear()
        return pending

    async def _write_loop(self) -> None:
        assert self._wakeup is not None
        queue = self._queue
        conn: AbstractConnection | None = None
        delay = 0.0
        down = False
        try:
            while not self._closed:
                if not queue:
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                try:
                    if conn is None or self._pub_conn is None:
                        conn = self._new_connection()
                        await conn.connect()  # type: ignore[no-untyped-call]
                        self._pub_conn = conn
                        if down:
                            await self._publisher_back(queue.__len__)
                            down = False
                        delay = 0.0
                    if self._hold_until:
                        # handed another master's backlog: let every server subscribe here first
                        wait = self._hold_until - asyncio.get_running_loop().time()
                        self._hold_until = 0.0
                        if wait > 0:
                            self._hold_cut = asyncio.Event()
                            with contextlib.suppress(TimeoutError):
                                await asyncio.wait_for(self._hold_cut.wait(), wait)
                            self._hold_cut = None
                    await self._write_batch(conn)
                except _LINK_ERRORS as exc:
                    self._pub_conn = None
                    if conn is not None:
                        with contextlib.suppress(Exception):
                            await conn.disconnect()
                        conn = None
                    self._publisher_lost(exc, first=not down)
                    down = True
                    delay = self._backoff(delay)
                    await asyncio.sleep(delay)
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.disconnect()

    async def _write_batch(self, conn: AbstractConnection) -> None:
        queue = self._queue
        batch = [queue[i] for i in range(min(len(queue), _BATCH))]
        await conn.send_packed_command(
            conn.pack_commands([command for command, _ in batch]), check_health=False
        )
        # one deadline for the whole batch (not a timer per reply)
        async with asyncio.timeout(self.reply_timeout):
            for _command, future in batch:
                try:
                    reply = await conn.read_response(timeout=math.inf)
                except ResponseError as exc:
                    reply = exc
                # the reply is in: this command is done even if a later one fails
                queue.popleft()
                if future.done():
                    continue
                if isinstance(reply, ResponseError):
                    if self.on_redirect is not None and isinstance(reply, _REDIRECTIONS):
                        # the slot is served elsewhere: the Redis Cluster link sends it there
                        self.on_redirect(self, _command, future)
                        continue
                    error = AdapterError(f"Redis refused a command: {reply}")
                    error.__cause__ = reply
                    future.set_exception(error)
                else:
                    future.set_result(reply)

    async def command(self, *args: Any) -> Any:
        """Run a request/response command on the application's client.

        A pooled connection that died with a Redis restart fails once and is dropped by the pool; the
        command is tried again (up to three times) before the error is reported.
        """
        for _attempt in range(2):
            try:
                return await self.client.execute_command(*args)  # type: ignore[no-untyped-call]
            except (RedisConnectionError, RedisTimeoutError):
                continue
            except RedisError:
                break
        try:
            return await self.client.execute_command(*args)  # type: ignore[no-untyped-call]
        except RedisError as exc:
            raise AdapterError(f"Redis command {_text(args[0])} failed: {exc}") from exc
        except OSError as exc:
            raise AdapterError(f"Redis is unreachable: {exc}") from exc

    async def take(self, key: str) -> Any:
        """``GET`` and ``DEL`` of ``key`` in one transaction: the value (``None`` when absent)."""
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.get(key)
                pipe.delete(key)
                value, _deleted = await pipe.execute()
        except RedisError as exc:
            raise AdapterError(f"Redis command GET failed: {exc}") from exc
        except OSError as exc:
            raise AdapterError(f"Redis is unreachable: {exc}") from exc
        return value

    # -- subscribing ----------------------------------------------------------------------------------

    async def subscribe(self, kind: SubscriptionKind, name: str, handler: Handler) -> None:
        """Deliver the messages of ``name`` to ``handler``; returns once Redis confirmed (or after
        ``subscribe_timeout`` while Redis is unreachable: the subscription is made on reconnect)."""
        future = self._subscribe(kind, name, handler)
        try:
            await asyncio.wait_for(asyncio.shield(future), self.subscribe_timeout)
        except TimeoutError:
            logger.warning("Redis did not confirm the subscription to %s yet", name)

    def subscribe_nowait(self, kind: SubscriptionKind, name: str, handler: Handler) -> None:
        """Like :meth:`subscribe`, without waiting for the confirmation."""
        self._subscribe(kind, name, handler)

    def _subscribe(
        self, kind: SubscriptionKind, name: str, handler: Handler
    ) -> asyncio.Future[None]:
        if self._closed:
            raise AdapterError("the Redis link is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._handlers[kind][name] = handler
        self._confirmations.setdefault((kind, name), []).append(future)
        if self._reader_task is None:
            self._reader_task = loop.create_task(self._read_loop())
            self._watch_sentinel()
        elif self._sub_conn is not None:
            self._write_sub(_SUBSCRIBE[kind], name)
        return future

    def _write_sub(self, command: str, name: str) -> None:
        conn = self._sub_conn
        if conn is None:
            return  # the reader subscribes everything when it reconnects
        task = asyncio.get_running_loop().create_task(
            conn.send_command(command, name, check_health=False)
        )
        task.add_done_callback(_ignore_result)

    def unsubscribe(self, kind: SubscriptionKind, name: str) -> None:
        """Stop delivering ``name``."""
        if self._handlers[kind].pop(name, None) is not None:
            self._write_sub(_UNSUBSCRIBE[kind], name)

    async def _read_loop(self) -> None:
        delay = 0.0
        down = False
        while not self._closed:
            conn = self._new_connection()
            try:
                await conn.connect()  # type: ignore[no-untyped-call]
                self._unconfirmed = 0
                for kind, handlers in self._handlers.items():
                    if handlers:
                        self._unconfirmed += len(handlers)
                        if kind == "shard":
                            # a Redis Cluster takes the shard channels of one slot per SSUBSCRIBE
                            for name in list(handlers):
                                await conn.send_command("SSUBSCRIBE", name, check_health=False)
                        else:
                            await conn.send_command(_SUBSCRIBE[kind], *handlers, check_health=False)
                self._sub_conn = conn
                if down:
                    count = sum(len(handlers) for handlers in self._handlers.values())
                    logger.info("Redis subscriber reconnected; %d subscriptions restored", count)
                    down = False
                delay = 0.0
                while True:
                    # no deadline: a subscriber is idle as long as nobody publishes
                    try:
                        reply = await conn.read_response(
                            timeout=math.inf, disconnect_on_error=False
                        )
                    except ResponseError as exc:
                        self._refused(exc)
                        continue
                    self._dispatch(reply)
            except _LINK_ERRORS as exc:
                self._sub_conn = None
                if self._closed:
                    break
                if not down:
                    logger.warning("Redis subscriber lost its connection (%s); reconnecting", exc)
                    down = True
                delay = self._backoff(delay)
                await asyncio.sleep(delay)
            finally:
                self._sub_conn = None
                with contextlib.suppress(Exception):
                    await conn.disconnect()

    def _dispatch(self, reply: Any) -> None:
        if not isinstance(reply, list) or len(reply) < 3:
            return
        kind_raw = reply[0]
        try:
            if kind_raw == b"message" or kind_raw == b"smessage":
                handlers = self._handlers["channel" if kind_raw == b"message" else "shard"]
                channel = _text(reply[1])
                handler = handlers.get(channel)
                if handler is not None:
                    handler(channel, reply[2])
            elif kind_raw == b"pmessage" and len(reply) >= 4:
                handler = self._handlers["pattern"].get(_text(reply[1]))
                if handler is not None:
                    handler(_text(reply[2]), reply[3])
            elif kind_raw == b"sunsubscribe" and self.on_moved is not None:
                # unsolicited when the slot moved away (an unsubscribe of ours dropped the handler)
                name = _text(reply[1])
                handler = self._handlers["shard"].pop(name, None)
                if handler is not None:
                    self.on_moved("shard", name, handler)
            elif kind_raw in _CONFIRM:
                self._unconfirmed = max(self._unconfirmed - 1, 0)
                waiting = self._confirmations.pop((_CONFIRM[kind_raw], _text(reply[1])), ())
                for future in waiting:
                    if not future.done():
                        future.set_result(None)
        except Exception:
            logger.exception("a Redis message handler raised")

    def _refused(self, exc: ResponseError) -> None:
        """An error reply on the subscriber: ``SSUBSCRIBE`` to a master that no longer owns the slot
        (``MOVED``) hands the shard channels of that slot to :attr:`on_moved`."""
        slot = getattr(exc, "slot_id", None)
        if not isinstance(exc, AskError) or self.on_moved is None or slot is None:
            logger.warning("Redis refused a subscription: %s", exc)
            return
        shard = self._handlers["shard"]
        for name in [name for name in shard if key_slot(name.encode()) == int(slot)]:
            handler = shard.pop(name)
            self._unconfirmed = max(self._unconfirmed - 1, 0)
            for future in self._confirmations.pop(("shard", name), ()):
                if not future.done():
                    future.set_result(None)
            self.on_moved("shard", name, handler)

    # -- Sentinel -------------------------------------------------------------------------------------

    def _watch_sentinel(self) -> None:
        master_address = getattr(self.client.connection_pool, "get_master_address", None)
        if self._watch_task is None and callable(master_address):
            self._watch_task = asyncio.get_running_loop().create_task(
                self._watch_loop(master_address)
            )

    async def _watch_loop(self, master_address: Callable[[], Any]) -> None:
        while not self._closed:
            await asyncio.sleep(self.sentinel_check_interval)
            try:
                host, port = await master_address()
            except Exception as exc:
                logger.debug("could not ask the sentinels for the master: %s", exc)
                continue
            self._master = (str(host), int(port))
            for conn in (self._sub_conn, self._pub_conn):
                where = (getattr(conn, "host", None), getattr(conn, "port", None))
                if conn is not None and self.is_stale(conn):
                    logger.warning(
                        "Redis Sentinel names a new master %s:%s; leaving %s:%s", host, port, *where
                    )
                    if conn is self._pub_conn:
                        self._pub_conn = None  # the writer opens a new one before its next batch
                    with contextlib.suppress(Exception):
                        await conn.disconnect()

    def is_stale(self, conn: AbstractConnection) -> bool:
        """True when the sentinels name a master other than the one ``conn`` is on."""
        master = self._master
        if master is None:
            return False
        host, port = getattr(conn, "host", None), getattr(conn, "port", None)
        return host is not None and port is not None and (str(host), int(port)) != master

    # -- life cycle -----------------------------------------------------------------------------------

    def _reopen(self) -> None:
        self._writer_task = None
        self._reader_task = None
        self._watch_task = None

    async def close(self) -> None:
        """Stop both connections. Commands still buffered are written while Redis answers (a hold is
        cut short), for a second at most; the rest fail with
        :class:`~aiosio.adapters._shared_link.LinkClosedError` (one warning gives their count)."""
        if self._closed:
            return
        self.release_hold()
        if self._queue and self._writer_task is not None:
            await flush(self._queue.__len__, lambda: self._publisher_down)
        self._closed = True
        await stop_tasks(self._writer_task, self._reader_task, self._watch_task)
        unsent = [future for _command, future in self._queue]
        self._queue.clear()
        fail_unsent("Redis", unsent)
        for waiting in self._confirmations.values():
            for future in waiting:
                future.cancel()
        self._confirmations.clear()


def _ignore_result(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.debug("Redis subscription command failed: %s", task.exception())
