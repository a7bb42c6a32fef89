"""The Redis Cluster connections of one server: one :class:`~aiosio.adapters._redis_link.RedisLink` a master.

:class:`RedisClusterLink` has the interface of :class:`RedisLink` and routes each operation to a master of
the application's ``redis.asyncio.RedisCluster``:

* shard channels (``SSUBSCRIBE`` / ``SPUBLISH`` / ``PUBSUB SHARDNUMSUB``) to the master that owns the
  channel's hash slot, as sharded pub/sub requires;
* classic subscriptions (``SUBSCRIBE`` / ``PSUBSCRIBE``) to the master of the channel's slot (any node
  would do: the cluster bus carries classic messages to every node), which spreads the load;
* every classic ``PUBLISH`` of this server through one and the same master: the cluster bus keeps the
  order of what one node forwards, so a broadcast to a room and a later one to everybody (two
  channels, one pattern subscription) reach every other server in the order they were sent. Routed
  by channel slot, they would travel through two nodes and could arrive the other way round.
* ``PUBSUB NUMSUB`` asks every master and adds the counts up, since a node only counts its own
  subscribers (as ``@socket.io/redis-adapter`` does with a cluster).

* keyed commands (the streams adapter's ``XADD`` / ``SET`` through :meth:`RedisClusterLink.send`,
  ``XRANGE`` / ``GETDEL`` through :meth:`RedisClusterLink.command`) to the master of the key's slot;
  the stream reader's own connection to the master of the stream's slot
  (:meth:`RedisClusterLink.new_connection`).

Each master's link is self-healing on its own (see :mod:`aiosio.adapters._redis_link`). The slot map is
read when the first adapter starts (``RedisCluster.initialize``) and followed afterwards, while slots move
(``redis-cli --cluster reshard``, ``CLUSTER SETSLOT``, a failover):

* a pipelined command the old owner answers with ``MOVED`` is sent again to the new owner a re-read slot
  map names, after ``redirect_hold`` (0.1 s): the time for the other servers, told of the move by the
  same master, to subscribe there (the commands sent meanwhile queue behind it, in order). ``ASK`` /
  ``TRYAGAIN`` (a slot in migration) go through the application's ``RedisCluster`` client, which
  follows them. Nothing is lost; a command redirected late can arrive after ones sent right after it.
* a shard subscription the old owner drops (the unsolicited ``sunsubscribe`` Redis sends when a slot
  leaves a master, or ``SSUBSCRIBE`` refused with ``MOVED``) is made again on the new owner once a
  re-read slot map names it. Sharded pub/sub keeps nothing: what is published on the channel between the
  move and the new subscription is lost for this server (the time for ``CLUSTER SLOTS`` and one
  ``SSUBSCRIBE``, a few milliseconds on a local cluster).
* the stream reader, redirected, re-reads the slot map and resumes on the new owner after the last
  entry it read: no entry is lost.

A master that dies is replaced by its replica after the cluster's node timeout. While some master's link
is down, the slot map is read again every ``topology_check_interval`` (1 s); once it names other masters,
the subscriptions placed on the dead one are made on the new owners of their slots, and the commands
buffered for it are sent to them, in order, ``1.5 * topology_check_interval`` later: by then the other
servers, checking on the same schedule, have subscribed on the new masters too. What the dead master had
accepted and not yet replicated is lost with it (Redis replication is asynchronous).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.exceptions import AskError, RedisError, TryAgainError

from aiosio.adapters._redis_link import Handler, RedisLink, SubscriptionKind
from aiosio.adapters._shared_link import SharedLink, fail_unsent, stop_tasks
from aiosio.exceptions import AdapterError

__all__ = ["RedisClusterLink", "is_redirection", "link_for_client"]

logger = logging.getLogger("aiosio.adapter")

#: commands the link routes by their first argument (a key, or a shard channel)
_KEYED = frozenset(("SPUBLISH", "XADD", "SET"))
#: seconds between two reads of the slot map while a subscription looks for its new master
_RESUBSCRIBE_DELAY = 0.05


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def is_redirection(error: BaseException | None) -> bool:
    """True for a reply that says the slot is (being) served elsewhere: ``MOVED``, ``ASK``,
    ``TRYAGAIN`` (raised as is, or as the cause of an :class:`AdapterError`)."""
    while error is not None:
        if isinstance(error, (AskError, TryAgainError)):
            return True
        error = error.__cause__
    return False


class RedisClusterLink(SharedLink):
    """Publisher + subscriber connections to each master of a Redis Cluster.

    ``client`` is the application's ``redis.asyncio.RedisCluster`` (it must not decode responses);
    ``options`` go to each master's :class:`RedisLink` (``max_buffer`` applies per master).
    """

    def __init__(
        self,
        client: RedisCluster,
        *,
        topology_check_interval: float = 1.0,
        redirect_hold: float = 0.1,
        **options: Any,
    ) -> None:
        if client.get_connection_kwargs().get("decode_responses"):
            raise ValueError("the Redis client must not decode responses (decode_responses=False)")
        _positive("topology_check_interval", topology_check_interval)
        _positive("redirect_hold", redirect_hold)
        self.client = client
        self.options = options
        self.topology_check_interval = topology_check_interval
        #: seconds a master handed redirected commands waits before writing them (and what follows)
        self.redirect_hold = redirect_hold
        self._links: dict[str, RedisLink] = {}
        self._placed: dict[tuple[SubscriptionKind, str], RedisLink] = {}
        self._handlers: dict[tuple[SubscriptionKind, str], Handler] = {}
        self._watch_task: asyncio.Task[None] | None = None
        self._ready = False
        self._closed = False
        self._refreshing: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        #: commands sent again after a redirection (a second one goes through the cluster client)
        self._retried: set[asyncio.Future[Any]] = set()
        #: redirected commands on their way to a new master (not queued on its link yet)
        self._redirecting: set[asyncio.Future[Any]] = set()
        self.subscribe_timeout: float = options.get("subscribe_timeout", 5.0)
        self.retry_min_delay: float = options.get("retry_min_delay", 0.05)
        self.retry_max_delay: float = options.get("retry_max_delay", 2.0)

    # -- routing --------------------------------------------------------------------------------------

    async def _initialize(self) -> None:
        if self._ready:
            return
        try:
            await self.client.initialize()
        except RedisError as exc:
            raise AdapterError(f"Redis Cluster is unreachable: {exc}") from exc
        self._ready = True
        if self._watch_task is None or self._watch_task.done():
            self._watch_task = asyncio.get_running_loop().create_task(self._watch())

    def _link_for(self, name: str) -> RedisLink:
        if not self._ready:
            raise AdapterError("the Redis Cluster link has not read the slot map yet")
        node = self.client.get_node_from_key(name)
        if node is None:
            raise AdapterError(f"no Redis Cluster node owns {name!r}")
        return self._link_for_node(node)

    def _masters(self) -> list[RedisLink]:
        return [self._link_for_node(node) for node in self.client.get_primaries()]

    def _link_for_node(self, node: Any) -> RedisLink:
        link = self._links.get(node.name)
        if link is None:
            pool = ConnectionPool(connection_class=node.connection_class, **node.connection_kwargs)
            link = RedisLink(Redis(connection_pool=pool), **self.options)
            link.acquire()
            link.on_moved = self._on_moved
            link.on_redirect = self._on_redirect
            self._links[node.name] = link
        return link

    async def refresh(self) -> None:
        """Read the slot map again (one read at a time; callers that come meanwhile share it)."""
        task = self._refreshing
        if task is None or task.done():
            task = self._refreshing = asyncio.get_running_loop().create_task(self._reload())
        try:
            await asyncio.shield(task)
        except RedisError as exc:
            raise AdapterError(f"could not read the Redis Cluster slot map: {exc}") from exc

    async def _reload(self) -> None:
        await self.client.nodes_manager.initialize()
        # at once, before any command is routed by the new map: the backlog of a master that is
        # gone goes out before them
        if not self._closed:
            try:
                self._replace()
            except Exception:
                logger.exception("could not follow the Redis Cluster's new masters")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- masters that fail ---------------------------------------------------------------------------

    async def _watch(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.topology_check_interval)
            if not any(link.down for link in self._links.values()):
                continue
            try:
                await self.refresh()  # and moves what sat on a master that is gone
            except AdapterError as exc:
                logger.debug("could not read the slot map: %s", exc)

    def _replace(self) -> None:
        """Move what sits on a link whose master no longer owns it (after a failover)."""
        for key, old in list(self._placed.items()):
            kind, name = key
            try:
                new = self._link_for(name)
            except AdapterError:
                continue
            # classic pub/sub reaches every node: only a dead master's subscriptions move
            if new is old or (kind != "shard" and not old.down):
                continue
            logger.info("Redis Cluster: subscription to %s moves to a new master", name)
            old.unsubscribe(kind, name)
            self._placed[key] = new
            new.subscribe_nowait(kind, name, self._handlers[key])
            if kind == "shard":
                # this server's next publishes there wait for the other servers' subscriptions
                new.hold(self.redirect_hold)
        primaries = {node.name for node in self.client.get_primaries()}
        for node_name, link in list(self._links.items()):
            if node_name in primaries:
                continue
            pending = link.take_pending()
            if pending:
                logger.info(
                    "Redis Cluster: %d commands buffered for %s go to the new masters",
                    len(pending),
                    node_name,
                )
            for command, future in pending:
                self._resend(command, future)
            if link.buffered == 0 and not any(placed is link for placed in self._placed.values()):
                del self._links[node_name]
                self._spawn(_close_link(link))

    def _resend(self, command: tuple[Any, ...], future: asyncio.Future[Any]) -> None:
        try:
            link = self._route(command)
            if link.buffered == 0:
                # the other servers look for the new master on the same schedule: the backlog
                # waits for their subscriptions there (pub/sub keeps nothing), the next commands
                # queue behind it
                link.hold(1.5 * self.topology_check_interval)
            again = link.send(*command)
        except AdapterError as exc:
            if not future.done():
                future.set_exception(exc)
            return
        again.add_done_callback(lambda done: _copy(done, future))

    # -- slots that move ------------------------------------------------------------------------------

    def _on_moved(self, kind: SubscriptionKind, name: str, handler: Handler) -> None:
        if self._placed.get((kind, name)) is None or self._closed:
            return
        logger.info("Redis Cluster moved the slot of %s; subscribing on its new master", name)
        self._spawn(self._resubscribe(kind, name, handler))

    async def _resubscribe(self, kind: SubscriptionKind, name: str, handler: Handler) -> None:
        old = self._placed.get((kind, name))
        for attempt in range(100):
            if (kind, name) not in self._placed:
                return  # unsubscribed meanwhile
            try:
                await self.refresh()
                link = self._link_for(name)
            except AdapterError as exc:
                logger.debug("slot map not readable yet: %s", exc)
                link = None
            if self._placed.get((kind, name)) is not old:
                return  # moved by the re-read slot map already
            # a master that has not heard of the move yet names the old owner: ask again
            if link is not None and (link is not old or attempt >= 20):
                self._placed[(kind, name)] = link
                link.subscribe_nowait(kind, name, handler)
                return
            await asyncio.sleep(_RESUBSCRIBE_DELAY)
        logger.warning("could not place the subscription to %s on a Redis Cluster master", name)

    def _on_redirect(
        self, refused: RedisLink, command: tuple[Any, ...], future: asyncio.Future[Any]
    ) -> None:
        """A master answered ``command`` with ``MOVED`` / ``ASK`` / ``TRYAGAIN`` (its link calls this
        instead of failing ``future``)."""
        if self._closed:
            fail_unsent("Redis Cluster", [future])
            return
        self._redirecting.add(future)
        future.add_done_callback(self._redirecting.discard)
        self._spawn(self._redirect(command, future, refused))

    async def _redirect(
        self, command: tuple[Any, ...], future: asyncio.Future[Any], refused: RedisLink
    ) -> None:
        """Send a redirected ``command`` again: to the new owner of its slot once a re-read slot map
        names one (held for :attr:`redirect_hold` when nothing waits there yet, so the other servers'
        subscriptions get there before the backlog), else (``ASK`` / ``TRYAGAIN``: a slot in
        migration; or redirected twice) through the application's client, which follows them."""
        link = None
        if future not in self._retried:
            with contextlib.suppress(AdapterError):
                await self.refresh()
                link = self._route(command)
        if link is not None and link is not refused:
            if link.buffered == 0:
                logger.info(
                    "Redis Cluster redirected %s %s; sending it to the new master in %.2f s",
                    _text(command[0]),
                    _text(command[1]),
                    self.redirect_hold,
                )
                link.hold(self.redirect_hold)
            try:
                again = link.send(*command)
            except AdapterError as exc:
                if not future.done():
                    future.set_exception(exc)
                return
            self._redirecting.discard(future)  # the link answers for it now
            self._retried.add(again)
            again.add_done_callback(self._retried.discard)
            again.add_done_callback(lambda done: _copy(done, future))
            return
        try:
            reply = await self.client.execute_command(*command)
        except Exception as exc:
            if not future.done():
                future.set_exception(AdapterError(f"Redis Cluster refused a command: {exc}"))
            return
        if not future.done():
            future.set_result(reply)

    def acquire(self) -> None:
        """One more adapter uses the link (a closed link opens again)."""
        self._closed = False
        super().acquire()

    # -- the RedisLink interface ----------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while every master that holds a subscription has its subscriber up."""
        return all(link.connected for link in set(self._placed.values()))

    @property
    def buffered(self) -> int:
        """The number of commands waiting to be written, over every master."""
        return sum(link.buffered for link in self._links.values())

    def send(self, *command: Any) -> asyncio.Future[Any]:
        """Queue ``SPUBLISH channel payload`` (or ``XADD key ...`` / ``SET key ...``) on the master of
        the channel's (key's) slot, ``PUBLISH`` on this server's publishing master (the same for every
        classic message, to keep their order). A command redirected by its master (the slot moved) is
        sent again to the new one; the future gets the final reply."""
        return self._route(command).send(*command)

    def _route(self, command: tuple[Any, ...]) -> RedisLink:
        name = _text(command[0]).upper()
        if name in _KEYED:
            return self._link_for(_text(command[1]))
        if name == "PUBLISH":
            return self._publisher()
        raise AdapterError(f"{name} is not routed by the Redis Cluster link")

    def new_connection(self, key: str | None = None) -> AbstractConnection:
        """A new connection (not connected yet) to the master of ``key``'s slot, for a stream reader."""
        if key is None:
            raise ValueError("a Redis Cluster connection is for the master of one key")
        return self._link_for(key).new_connection()

    def is_stale(self, conn: AbstractConnection) -> bool:
        """Always False: a reader on a master that lost the slot is redirected (``MOVED``)."""
        return False

    async def initialize(self) -> None:
        """Read the slot map unless it was read already."""
        await self._initialize()

    def _publisher(self) -> RedisLink:
        if not self._ready:
            raise AdapterError("the Redis Cluster link has not read the slot map yet")
        primaries = sorted(self.client.get_primaries(), key=lambda node: node.name)
        if not primaries:
            raise AdapterError("the Redis Cluster has no master")
        return self._link_for_node(primaries[0])

    async def command(self, *args: Any) -> Any:
        """``PUBSUB NUMSUB`` (summed over the masters), ``PUBSUB SHARDNUMSUB`` (the slot's master), or a
        keyed command (``XRANGE``, ``GETDEL``...) through the cluster client, which routes it by its key
        and follows redirections."""
        await self._initialize()
        if len(args) >= 3 and _text(args[0]).upper() == "PUBSUB":
            sub = _text(args[1]).upper()
            if sub == "SHARDNUMSUB":
                return await self._link_for(_text(args[2])).command(*args)
            if sub == "NUMSUB":
                totals = [0] * (len(args) - 2)
                for link in self._masters():
                    reply = await link.command(*args)
                    for i in range(len(totals)):
                        totals[i] += int(reply[2 * i + 1])
                flat: list[Any] = []
                for channel, total in zip(args[2:], totals, strict=True):
                    flat += [channel, total]
                return flat
        try:
            return await self.client.execute_command(*args)
        except RedisError as exc:
            raise AdapterError(f"Redis command {_text(args[0])} failed: {exc}") from exc
        except OSError as exc:
            raise AdapterError(f"Redis Cluster is unreachable: {exc}") from exc

    async def take(self, key: str) -> Any:
        """``GETDEL key``: the value, removed (``None`` when absent)."""
        return await self.command("GETDEL", key)

    async def subscribe(self, kind: SubscriptionKind, name: str, handler: Handler) -> None:
        """Subscribe on the master of ``name``'s slot (see :meth:`RedisLink.subscribe`)."""
        await self._initialize()
        link = self._link_for(name)
        self._placed[(kind, name)] = link
        self._handlers[(kind, name)] = handler
        await link.subscribe(kind, name, handler)

    def subscribe_nowait(self, kind: SubscriptionKind, name: str, handler: Handler) -> None:
        """Like :meth:`subscribe`, without waiting for the confirmation."""
        link = self._link_for(name)
        self._placed[(kind, name)] = link
        self._handlers[(kind, name)] = handler
        link.subscribe_nowait(kind, name, handler)

    def unsubscribe(self, kind: SubscriptionKind, name: str) -> None:
        """Stop delivering ``name``."""
        link = self._placed.pop((kind, name), None)
        self._handlers.pop((kind, name), None)
        if link is not None:
            link.unsubscribe(kind, name)

    async def close(self) -> None:
        """Close every master's link (and the connection pools they opened).

        What waits to be written is sent first where its master answers, a hold (after a slot move or a
        failover) cut short, for a second at most; commands buffered for a master that is down, or
        on their way to a new one, fail with :class:`~aiosio.adapters._shared_link.LinkClosedError`
        (a warning gives their count)."""
        self._closed = True
        links = list(self._links.values())
        self._links.clear()
        self._placed.clear()
        self._handlers.clear()
        self._ready = False
        for task in (self._watch_task, self._refreshing):
            if task is not None:
                self._tasks.add(task)
        self._watch_task = self._refreshing = None
        await stop_tasks(*self._tasks)
        fail_unsent("Redis Cluster", list(self._redirecting))
        self._redirecting.clear()
        await asyncio.gather(*(_close_link(link) for link in links), return_exceptions=True)


def _positive(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")


def link_for_client(
    client: Redis | RedisCluster | RedisLink | RedisClusterLink,
    *,
    max_buffer: int | None = None,
    topology_check_interval: float | None = None,
    redirect_hold: float | None = None,
) -> RedisLink | RedisClusterLink:
    """The link an adapter factory uses for ``client``: the link itself when given one, else a new
    :class:`RedisClusterLink` for a ``RedisCluster`` client, a :class:`RedisLink` for the others.

    ``topology_check_interval`` and ``redirect_hold`` apply to a Redis Cluster only (a ``ValueError``
    for another client); ``None`` keeps the defaults (1 s, 0.1 s)."""
    cluster_options: dict[str, float] = {}
    if topology_check_interval is not None:
        cluster_options["topology_check_interval"] = topology_check_interval
    if redirect_hold is not None:
        cluster_options["redirect_hold"] = redirect_hold
    if isinstance(client, (RedisLink, RedisClusterLink)):
        if max_buffer is not None or cluster_options:
            raise ValueError("a link given as the client takes its options where it is built")
        return client
    options = {} if max_buffer is None else {"max_buffer": max_buffer}
    if isinstance(client, RedisCluster):
        return RedisClusterLink(client, **cluster_options, **options)
    if cluster_options:
        names = " and ".join(cluster_options)
        raise ValueError(f"{names}: Redis Cluster options, for a RedisCluster client only")
    return RedisLink(client, **options)


def _copy(source: asyncio.Future[Any], target: asyncio.Future[Any]) -> None:
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif source.exception() is not None:
        target.set_exception(source.exception())  # type: ignore[arg-type]
    else:
        target.set_result(source.result())


async def _close_link(link: RedisLink) -> None:
    await link.close()
    await link.client.aclose()
