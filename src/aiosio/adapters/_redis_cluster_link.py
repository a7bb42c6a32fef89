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

Each master's link is self-healing on its own (see :mod:`aiosio.adapters._redis_link`). The slot map is
read when the first adapter starts (``RedisCluster.initialize``); slots moved later (resharding, a
failover to a replica) are not followed: commands to the old owner fail with ``AdapterError``.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import ConnectionPool
from redis.exceptions import RedisError

from aiosio.adapters._redis_link import Handler, RedisLink, SubscriptionKind
from aiosio.adapters._shared_link import SharedLink
from aiosio.exceptions import AdapterError

__all__ = ["RedisClusterLink"]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisClusterLink(SharedLink):
    """Publisher + subscriber connections to each master of a Redis Cluster.

    ``client`` is the application's ``redis.asyncio.RedisCluster`` (it must not decode responses);
    ``options`` go to each master's :class:`RedisLink` (``max_buffer`` applies per master).
    """

    def __init__(self, client: RedisCluster, **options: Any) -> None:
        if client.get_connection_kwargs().get("decode_responses"):
            raise ValueError("the Redis client must not decode responses (decode_responses=False)")
        self.client = client
        self.options = options
        self._links: dict[str, RedisLink] = {}
        self._placed: dict[tuple[SubscriptionKind, str], RedisLink] = {}
        self._ready = False

    # -- routing --------------------------------------------------------------------------------------

    async def _initialize(self) -> None:
        if self._ready:
            return
        try:
            await self.client.initialize()
        except RedisError as exc:
            raise AdapterError(f"Redis Cluster is unreachable: {exc}") from exc
        self._ready = True

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
            self._links[node.name] = link
        return link

    # -- the RedisLink interface ----------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while every master that holds a subscription has its subscriber up."""
        return all(link.connected for link in set(self._placed.values()))

    @property
    def buffered(self) -> int:
        """The number of commands waiting to be written, over every master."""
        return sum(link.buffered for link in self._links.values())

    def send(self, *command: Any) -> Any:
        """Queue ``SPUBLISH channel payload`` on the master of ``channel``, ``PUBLISH`` on this
        server's publishing master (the same for every classic message, to keep their order)."""
        name = _text(command[0]).upper()
        if name == "SPUBLISH":
            return self._link_for(_text(command[1])).send(*command)
        if name == "PUBLISH":
            return self._publisher().send(*command)
        raise AdapterError(f"{name} is not routed by the Redis Cluster link")

    def _publisher(self) -> RedisLink:
        if not self._ready:
            raise AdapterError("the Redis Cluster link has not read the slot map yet")
        primaries = sorted(self.client.get_primaries(), key=lambda node: node.name)
        if not primaries:
            raise AdapterError("the Redis Cluster has no master")
        return self._link_for_node(primaries[0])

    async def command(self, *args: Any) -> Any:
        """``PUBSUB NUMSUB`` (summed over the masters) or ``PUBSUB SHARDNUMSUB`` (the slot's master)."""
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
        raise AdapterError(f"{_text(args[0])} is not routed by the Redis Cluster link")

    async def subscribe(self, kind: SubscriptionKind, name: str, handler: Handler) -> None:
        """Subscribe on the master of ``name``'s slot (see :meth:`RedisLink.subscribe`)."""
        await self._initialize()
        link = self._link_for(name)
        self._placed[(kind, name)] = link
        await link.subscribe(kind, name, handler)

    def subscribe_nowait(self, kind: SubscriptionKind, name: str, handler: Handler) -> None:
        """Like :meth:`subscribe`, without waiting for the confirmation."""
        link = self._link_for(name)
        self._placed[(kind, name)] = link
        link.subscribe_nowait(kind, name, handler)

    def unsubscribe(self, kind: SubscriptionKind, name: str) -> None:
        """Stop delivering ``name``."""
        link = self._placed.pop((kind, name), None)
        if link is not None:
            link.unsubscribe(kind, name)

    async def close(self) -> None:
        """Close every master's link (and the connection pools they opened)."""
        links = list(self._links.values())
        self._links.clear()
        self._placed.clear()
        for link in links:
            await link.close()
            await link.client.aclose()
