"""Redis adapters, wire-compatible with ``@socket.io/redis-adapter`` (8.x).

* :class:`RedisAdapter` (``create_adapter``) speaks the classic pub/sub protocol of
  ``createAdapter(pubClient, subClient)``: broadcasts are msgpack ``[uid, packet, {rooms, except, flags}]``
  on ``socket.io#<nsp>#`` (``socket.io#<nsp>#<room>#`` when they target exactly one room; every server
  pattern-subscribes to ``socket.io#<nsp>#*`` and drops, without decoding, the messages for rooms it does
  not hold); requests are JSON (msgpack when they hold binary) on ``socket.io-request#<nsp>#``; responses
  come back on ``socket.io-response#<nsp>#`` (or ``socket.io-response#<nsp>#<uid>#`` with
  ``publish_on_specific_response_channel``). ``server_count()`` is ``PUBSUB NUMSUB`` of the request
  channel.
* :class:`ShardedRedisAdapter` (``create_sharded_adapter``) is ``createShardedAdapter``: Redis 7 sharded
  pub/sub (``SSUBSCRIBE`` / ``SPUBLISH``) carrying the cluster adapter's messages, JSON or msgpack when
  binary, on ``socket.io#<nsp>#``, per-room channels ``socket.io#<nsp>#<room>#`` (``subscription_mode``
  ``"dynamic"``: public rooms, ``"dynamic-private"``: every room, ``"static"``: none) and responses on
  ``socket.io#<nsp>#<uid>#``.

Both share one :class:`~aiosio.adapters._redis_link.RedisLink` per factory (two connections per server);
see there for what happens while Redis is unreachable.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import string
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Literal, cast

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from aiosio import _json
from aiosio.adapters._codec import (
    decode_json_or_msgpack,
    flags_to_wire,
    has_binary,
    opts_from_wire,
    opts_to_wire,
    pack,
    packet_from_wire,
    packet_to_wire,
    rooms_from_wire,
    unpack,
)
from aiosio.adapters._redis_cluster_link import RedisClusterLink, link_for_client
from aiosio.adapters._redis_link import RedisLink
from aiosio.adapters._requests import (
    AckRequest,
    PendingRequest,
    close_requests,
    send_request,
    socket_from_wire,
    socket_to_wire,
    track_ack,
)
from aiosio.adapters._shared_link import LinkClosedError
from aiosio.adapters.base import AdapterNamespace, AdapterSocket, BroadcastOptions, SocketDetails
from aiosio.adapters.cluster import ClusterAdapter, ClusterMessage, MessageType
from aiosio.adapters.memory import InMemoryAdapter
from aiosio.exceptions import AckTimeoutError, AdapterError, RequestTimeoutError
from aiosio.protocol.socketio import Packet

__all__ = [
    "RedisAdapter",
    "RequestType",
    "ShardedRedisAdapter",
    "create_adapter",
    "create_sharded_adapter",
]

logger = logging.getLogger("aiosio.adapter")

_ALPHABET = string.ascii_letters + string.digits


def _uid2(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


class RequestType:
    """The ``type`` of a classic request (numbers of the reference's enum)."""

    SOCKETS = 0
    ALL_ROOMS = 1
    REMOTE_JOIN = 2
    REMOTE_LEAVE = 3
    REMOTE_DISCONNECT = 4
    REMOTE_FETCH = 5
    SERVER_SIDE_EMIT = 6
    BROADCAST = 7
    BROADCAST_CLIENT_COUNT = 8
    BROADCAST_ACK = 9


#: how the reference's timeout errors name a request
_REQUEST_NAMES = {
    RequestType.SOCKETS: "sockets",
    RequestType.ALL_ROOMS: "allRooms",
    RequestType.REMOTE_FETCH: "fetchSockets",
}


def _log_failure(future: asyncio.Future[Any]) -> None:
    if future.cancelled():
        return
    exc = future.exception()
    if exc is not None and not isinstance(exc, LinkClosedError):  # counted by the link
        logger.warning("Redis publish failed: %s", exc)


def _encode(value: dict[str, Any]) -> bytes | str:
    """JSON like the reference, msgpack when the value carries binary."""
    if has_binary(value):
        return pack(value)
    return _json.dumps(value)


class _Pending(PendingRequest):
    """A classic request waiting for ``num_sub`` answers (this server counts as the first)."""

    __slots__ = ("kind", "msg_count", "num_sub")

    def __init__(
        self, kind: int, future: asyncio.Future[Any], num_sub: int, responses: Any
    ) -> None:
        super().__init__(future, responses)
        self.kind = kind
        self.num_sub = num_sub
        self.msg_count = 1 if kind != RequestType.SERVER_SIDE_EMIT else 0


class RedisAdapter(InMemoryAdapter):
    """The classic Redis pub/sub adapter (see the module docstring for the channels and formats)."""

    __slots__ = (
        "_ack_requests",
        "_closed",
        "_link",
        "_requests",
        "channel",
        "publish_on_specific_response_channel",
        "request_channel",
        "requests_timeout",
        "response_channel",
        "specific_response_channel",
        "uid",
    )

    def __init__(
        self,
        nsp: AdapterNamespace,
        link: RedisLink | RedisClusterLink,
        *,
        key: str = "socket.io",
        requests_timeout: float = 5.0,
        publish_on_specific_response_channel: bool = False,
    ) -> None:
        super().__init__(nsp)
        self._link = link
        #: this server's id (6 characters, like the reference)
        self.uid = _uid2(6)
        self.requests_timeout = requests_timeout
        self.publish_on_specific_response_channel = publish_on_specific_response_channel
        self.channel = f"{key}#{nsp.name}#"
        self.request_channel = f"{key}-request#{nsp.name}#"
        self.response_channel = f"{key}-response#{nsp.name}#"
        self.specific_response_channel = f"{self.response_channel}{self.uid}#"
        self._requests: dict[str, _Pending] = {}
        self._ack_requests: dict[str, AckRequest] = {}
        self._closed = False

    # -- life cycle ---------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while this server's subscriber connection(s) are up with every subscription confirmed."""
        return self._link.connected

    async def _init(self) -> None:
        self._link.acquire()
        link = self._link
        await asyncio.gather(
            link.subscribe("pattern", self.channel + "*", self._on_broadcast_message),
            link.subscribe("channel", self.request_channel, self._on_request),
            link.subscribe("channel", self.response_channel, self._on_response),
            link.subscribe("channel", self.specific_response_channel, self._on_response),
        )

    def init(self) -> Awaitable[None]:
        return self._init()

    async def _close(self) -> None:
        link = self._link
        link.unsubscribe("pattern", self.channel + "*")
        for channel in (
            self.request_channel,
            self.response_channel,
            self.specific_response_channel,
        ):
            link.unsubscribe("channel", channel)
        await link.release()

    def close(self) -> Awaitable[None] | None:
        if self._closed:
            return None
        self._closed = True
        close_requests(self._requests, self._ack_requests)
        return self._close()

    # -- publishing ---------------------------------------------------------------------------------

    def _publish(self, channel: str, payload: bytes | str) -> asyncio.Future[Any]:
        future = self._link.send("PUBLISH", channel, payload)
        future.add_done_callback(_log_failure)
        return future

    def _respond(self, request: dict[str, Any], payload: bytes | str) -> None:
        if self.publish_on_specific_response_channel:
            channel = f"{self.response_channel}{request.get('uid')}#"
        else:
            channel = self.response_channel
        try:
            self._publish(channel, payload)
        except AdapterError as exc:
            logger.warning("[%s] could not publish a response: %s", self.uid, exc)

    async def server_count(self) -> int:
        reply = await self._link.command("PUBSUB", "NUMSUB", self.request_channel)
        return int(reply[1])

    # -- receiving ----------------------------------------------------------------------------------

    def _on_broadcast_message(self, channel: str, payload: bytes) -> None:
        if not channel.startswith(self.channel):
            return
        room = channel[len(self.channel) : -1]
        if room and room not in self.rooms:
            return  # not decoded: no local socket is in that room
        try:
            decoded = unpack(payload)
        except ValueError:
            logger.debug("[%s] dropped a malformed broadcast", self.uid)
            return
        if not isinstance(decoded, list) or len(decoded) < 3 or decoded[0] == self.uid:
            return
        packet = packet_from_wire(decoded[1], "/")
        if packet is None or packet.nsp != self.nsp.name:
            return
        InMemoryAdapter.broadcast(self, packet, opts_from_wire(decoded[2]))

    def _on_request(self, channel: str, payload: bytes) -> None:
        try:
            request = decode_json_or_msgpack(payload)
        except ValueError:
            logger.debug("[%s] dropped a malformed request", self.uid)
            return
        if not isinstance(request, dict):
            return
        try:
            self._handle_request(request)
        except Exception:
            logger.exception("[%s] could not handle a request", self.uid)

    def _handle_request(self, request: dict[str, Any]) -> None:
        kind = request.get("type")
        request_id = request.get("requestId")
        own = request.get("uid") == self.uid
        if kind == RequestType.SOCKETS:
            if own or request_id in self._requests:
                return
            opts = BroadcastOptions(rooms=rooms_from_wire(request.get("rooms")))
            ids = [socket.id for socket in self._matching(opts)]
            self._respond(request, _json.dumps({"requestId": request_id, "sockets": ids}))
        elif kind == RequestType.ALL_ROOMS:
            if own or request_id in self._requests:
                return
            self._respond(
                request, _json.dumps({"requestId": request_id, "rooms": list(self.rooms)})
            )
        elif kind in (
            RequestType.REMOTE_JOIN,
            RequestType.REMOTE_LEAVE,
            RequestType.REMOTE_DISCONNECT,
        ):
            self._on_remote_operation(kind, request, own)
        elif kind == RequestType.REMOTE_FETCH:
            if own or request_id in self._requests:
                return
            opts = opts_from_wire(request.get("opts"))
            sockets = [socket_to_wire(socket) for socket in self._matching(opts)]
            self._respond(request, _encode({"requestId": request_id, "sockets": sockets}))
        elif kind == RequestType.SERVER_SIDE_EMIT:
            if not own:
                self._on_server_side_emit(request)
        elif kind == RequestType.BROADCAST:
            if own or request_id in self._ack_requests:
                return
            self._on_broadcast_with_ack(request)
        else:
            logger.debug("[%s] unknown request type %r", self.uid, kind)

    def _on_remote_operation(self, kind: int, request: dict[str, Any], own: bool) -> None:
        if "opts" in request:
            if own:
                return  # already applied here
            opts = opts_from_wire(request.get("opts"))
            rooms = sorted(rooms_from_wire(request.get("rooms")))
            if kind == RequestType.REMOTE_JOIN:
                InMemoryAdapter.add_sockets(self, opts, rooms)
            elif kind == RequestType.REMOTE_LEAVE:
                InMemoryAdapter.del_sockets(self, opts, rooms)
            else:
                InMemoryAdapter.disconnect_sockets(self, opts, bool(request.get("close")))
            return
        # the older one-socket form: {sid, room} / {sid, close}, answered with {requestId}
        sid = request.get("sid")
        socket = self.nsp.sockets.get(sid) if isinstance(sid, str) else None
        if socket is None:
            return
        room = request.get("room")
        if kind == RequestType.REMOTE_JOIN and isinstance(room, str):
            socket.join(room)
        elif kind == RequestType.REMOTE_LEAVE and isinstance(room, str):
            socket.leave(room)
        elif kind == RequestType.REMOTE_DISCONNECT:
            socket.disconnect(bool(request.get("close")))
        self._respond(request, _json.dumps({"requestId": request.get("requestId")}))

    def _on_server_side_emit(self, request: dict[str, Any]) -> None:
        packet = request.get("data")
        if not isinstance(packet, list) or not packet or not isinstance(packet[0], str):
            return
        event, args = packet[0], packet[1:]
        request_id = request.get("requestId")
        if request_id is None:
            self.nsp.handle_server_side_emit(event, args, None)
            return
        called = False

        def callback(*values: Any) -> None:
            nonlocal called
            if called:
                return
            called = True
            response: dict[str, Any] = {
                "type": RequestType.SERVER_SIDE_EMIT,
                "requestId": request_id,
            }
            if values:
                response["data"] = values[0]
            try:
                # the reference answers on the shared response channel, whatever the options
                self._publish(self.response_channel, _encode(response))
            except AdapterError as exc:
                logger.warning("[%s] could not answer a server-side emit: %s", self.uid, exc)

        self.nsp.handle_server_side_emit(event, args, callback)

    def _on_broadcast_with_ack(self, request: dict[str, Any]) -> None:
        packet = packet_from_wire(request.get("packet"), self.nsp.name)
        if packet is None:
            return
        opts = opts_from_wire(request.get("opts"))
        request_id = request.get("requestId")

        def client_count(count: int) -> None:
            self._respond(
                request,
                _json.dumps(
                    {
                        "type": RequestType.BROADCAST_CLIENT_COUNT,
                        "requestId": request_id,
                        "clientCount": count,
                    }
                ),
            )

        def ack(*args: Any) -> None:
            response: dict[str, Any] = {"type": RequestType.BROADCAST_ACK, "requestId": request_id}
            if args:
                response["packet"] = args[0]
            self._respond(request, pack(response))

        InMemoryAdapter.broadcast_with_ack(self, packet, opts, client_count, ack)

    def _on_response(self, channel: str, payload: bytes) -> None:
        try:
            response = decode_json_or_msgpack(payload)
        except ValueError:
            return
        if not isinstance(response, dict):
            return
        request_id = response.get("requestId")
        if not isinstance(request_id, str):
            return
        ack_request = self._ack_requests.get(request_id)
        if ack_request is not None:
            kind = response.get("type")
            if kind == RequestType.BROADCAST_CLIENT_COUNT or kind == RequestType.BROADCAST_ACK:
                ack_request.answer(kind == RequestType.BROADCAST_CLIENT_COUNT, response)
            return
        request = self._requests.get(request_id)
        if request is None:
            return
        if request.kind in (RequestType.SOCKETS, RequestType.REMOTE_FETCH):
            request.msg_count += 1
            sockets = response.get("sockets")
            if not isinstance(sockets, list):
                return
            if request.kind == RequestType.SOCKETS:
                request.responses.update(s for s in sockets if isinstance(s, str))
            else:
                request.responses.extend(
                    details for details in map(socket_from_wire, sockets) if details is not None
                )
        elif request.kind == RequestType.ALL_ROOMS:
            request.msg_count += 1
            rooms = response.get("rooms")
            if not isinstance(rooms, list):
                return
            request.responses.update(rooms_from_wire(rooms))
        elif request.kind == RequestType.SERVER_SIDE_EMIT:
            request.msg_count += 1
            request.responses.append(response.get("data"))
        if request.msg_count >= request.num_sub:
            del self._requests[request_id]
            request.finish()

    # -- requests -----------------------------------------------------------------------------------

    async def _request(
        self, kind: int, body: dict[str, Any], num_sub: int, responses: Any, wait: float | None
    ) -> Any:
        if self._closed:
            raise AdapterError("the adapter is closed")
        request_id = _uid2(6)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        pending = _Pending(kind, future, num_sub, responses)
        delay = self.requests_timeout if wait is None else wait
        return await send_request(
            self._requests,
            request_id,
            pending,
            delay,
            self._timed_out,
            lambda: self._publish(
                self.request_channel,
                _encode({"uid": self.uid, "requestId": request_id, "type": kind, **body}),
            ),
        )

    def _timed_out(self, request_id: str) -> None:
        pending = self._requests.pop(request_id, None)
        if pending is None or pending.future.done():
            return
        received = pending.msg_count
        responses = pending.responses
        error: Exception
        if pending.kind == RequestType.SERVER_SIDE_EMIT:
            error = AckTimeoutError(
                f"timeout reached: only {received} responses received out of {pending.num_sub}",
                responses=responses,
            )
        else:
            # the reference rejects with a plain Error naming the request
            error = RequestTimeoutError(
                f"timeout reached while waiting for {_REQUEST_NAMES[pending.kind]} response",
                responses=responses,
            )
        pending.future.set_exception(error)

    async def sockets(self, rooms: Iterable[str]) -> set[str]:
        room_set = frozenset(rooms)
        local = {socket.id for socket in self._matching(BroadcastOptions(rooms=room_set))}
        num_sub = await self.server_count()
        if num_sub <= 1:
            return local
        body = {"rooms": sorted(room_set)}
        result: set[str] = await self._request(RequestType.SOCKETS, body, num_sub, local, None)
        return result

    async def all_rooms(self) -> set[str]:
        """The rooms of every server of the cluster."""
        local = set(self.rooms)
        num_sub = await self.server_count()
        if num_sub <= 1:
            return local
        result: set[str] = await self._request(RequestType.ALL_ROOMS, {}, num_sub, local, None)
        return result

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[AdapterSocket | SocketDetails]:
        """The matching sockets of every server.

        Raises :class:`~aiosio.exceptions.RequestTimeoutError` (``"timeout reached while waiting for
        fetchSockets response"``, as the reference; the sockets gathered so far in ``responses``) when
        some server does not answer within ``opts.flags.timeout`` (or :attr:`requests_timeout`).
        """
        local: list[AdapterSocket | SocketDetails] = list(self._matching(opts))
        if opts.flags.local:
            return local
        num_sub = await self.server_count()
        if num_sub <= 1:
            return local
        body = {"opts": opts_to_wire(opts, with_flags=False)}
        result: list[AdapterSocket | SocketDetails] = await self._request(
            RequestType.REMOTE_FETCH, body, num_sub, local, opts.flags.timeout
        )
        return result

    async def server_side_emit_with_ack(self, event: str, args: Sequence[Any]) -> list[Any]:
        num_sub = await self.server_count() - 1
        if num_sub <= 0:
            return []
        body = {"data": [event, *args]}
        result: list[Any] = await self._request(
            RequestType.SERVER_SIDE_EMIT, body, num_sub, [], None
        )
        return result

    # -- operations ---------------------------------------------------------------------------------

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        packet.nsp = self.nsp.name
        if not opts.flags.local:
            raw_opts = {
                "rooms": sorted(opts.rooms),
                "except": sorted(opts.except_),
                "flags": flags_to_wire(opts.flags),
            }
            payload = pack([self.uid, packet_to_wire(packet), raw_opts])
            channel = self.channel
            if len(opts.rooms) == 1:
                (room,) = opts.rooms
                channel = f"{channel}{room}#"
            self._publish(channel, payload)
        super().broadcast(packet, opts)

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count_callback: Callable[[int], None],
        ack: Callable[..., None],
    ) -> None:
        packet.nsp = self.nsp.name
        if not opts.flags.local:
            request_id = _uid2(6)
            payload = pack(
                {
                    "uid": self.uid,
                    "requestId": request_id,
                    "type": RequestType.BROADCAST,
                    "packet": packet_to_wire(packet),
                    "opts": opts_to_wire(opts),
                }
            )
            self._publish(self.request_channel, payload)
            ttl = opts.flags.timeout if opts.flags.timeout is not None else self.requests_timeout
            track_ack(self._ack_requests, request_id, client_count_callback, ack, ttl)
        super().broadcast_with_ack(packet, opts, client_count_callback, ack)

    def _remote(self, kind: int, opts: BroadcastOptions, extra: dict[str, Any]) -> None:
        body = {
            "uid": self.uid,
            "type": kind,
            "opts": opts_to_wire(opts, with_flags=False),
            **extra,
        }
        self._publish(self.request_channel, _json.dumps(body))

    def add_sockets(self, opts: BroadcastOptions, rooms: Sequence[str]) -> None:
        if not opts.flags.local:
            self._remote(RequestType.REMOTE_JOIN, opts, {"rooms": list(rooms)})
        super().add_sockets(opts, rooms)

    def del_sockets(self, opts: BroadcastOptions, rooms: Sequence[str]) -> None:
        if not opts.flags.local:
            self._remote(RequestType.REMOTE_LEAVE, opts, {"rooms": list(rooms)})
        super().del_sockets(opts, rooms)

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        if not opts.flags.local:
            self._remote(RequestType.REMOTE_DISCONNECT, opts, {"close": close})
        super().disconnect_sockets(opts, close)

    def server_side_emit(self, event: str, args: Sequence[Any]) -> None:
        body = {"uid": self.uid, "type": RequestType.SERVER_SIDE_EMIT, "data": [event, *args]}
        self._publish(self.request_channel, _encode(body))


#: what the Redis adapters take: a client, a cluster client, or a link to share
RedisClient = Redis | RedisCluster | RedisLink | RedisClusterLink


def create_adapter(
    client: RedisClient,
    *,
    key: str = "socket.io",
    requests_timeout: float = 5.0,
    publish_on_specific_response_channel: bool = False,
    max_buffer: int | None = None,
    topology_check_interval: float | None = None,
    redirect_hold: float | None = None,
) -> Callable[[AdapterNamespace], RedisAdapter]:
    """``Server(adapter=create_adapter(redis.asyncio.Redis(...)))``: the classic Redis adapter.

    ``client`` must not decode responses. ``max_buffer`` bounds the messages kept while Redis is
    unreachable (default 10,000); beyond it an emit raises :class:`~aiosio.exceptions.AdapterError`.

    With a ``redis.asyncio.RedisCluster`` client: ``topology_check_interval`` (seconds, default 1) is how
    often the slot map is read again while a master is unreachable (the commands buffered for it go to
    its successor ``1.5 * topology_check_interval`` after the map names one); ``redirect_hold``
    (seconds, default 0.1) how long a master waits before writing commands redirected to it after a
    slot move. Both must be positive; they are refused with another client.
    """
    link = link_for_client(
        client,
        max_buffer=max_buffer,
        topology_check_interval=topology_check_interval,
        redirect_hold=redirect_hold,
    )

    def factory(nsp: AdapterNamespace) -> RedisAdapter:
        return RedisAdapter(
            nsp,
            link,
            key=key,
            requests_timeout=requests_timeout,
            publish_on_specific_response_channel=publish_on_specific_response_channel,
        )

    return factory


# -- sharded ---------------------------------------------------------------------------------------

SubscriptionMode = Literal["static", "dynamic", "dynamic-private"]

_MAY_CONTAIN_BINARY = frozenset(
    (
        MessageType.BROADCAST,
        MessageType.BROADCAST_ACK,
        MessageType.FETCH_SOCKETS_RESPONSE,
        MessageType.SERVER_SIDE_EMIT,
        MessageType.SERVER_SIDE_EMIT_RESPONSE,
    )
)


def _looks_like_a_socket_id(room: str) -> bool:
    return len(room) == 20


class ShardedRedisAdapter(ClusterAdapter):
    """The sharded pub/sub adapter of Redis 7 (see the module docstring)."""

    __slots__ = ("_link", "channel", "response_channel", "subscription_mode")

    def __init__(
        self,
        nsp: AdapterNamespace,
        link: RedisLink | RedisClusterLink,
        *,
        channel_prefix: str = "socket.io",
        subscription_mode: SubscriptionMode = "dynamic",
        requests_timeout: float = 5.0,
    ) -> None:
        if subscription_mode not in ("static", "dynamic", "dynamic-private"):
            raise ValueError(f"unknown subscription_mode {subscription_mode!r}")
        super().__init__(nsp, requests_timeout=requests_timeout)
        self._link = link
        self.subscription_mode = subscription_mode
        self.channel = f"{channel_prefix}#{nsp.name}#"
        self.response_channel = f"{channel_prefix}#{nsp.name}#{self.uid}#"

    @property
    def connected(self) -> bool:
        """True while this server's subscriber connection(s) are up with every subscription confirmed."""
        return self._link.connected

    async def _init(self) -> None:
        self._link.acquire()
        await asyncio.gather(
            self._link.subscribe("shard", self.channel, self._on_raw),
            self._link.subscribe("shard", self.response_channel, self._on_raw),
        )
        if self.subscription_mode != "static":
            self.on("create-room", self._on_create_room)
            self.on("delete-room", self._on_delete_room)

    def init(self) -> Awaitable[None]:
        return self._init()

    def _separate_channel(self, room: str) -> bool:
        if self.subscription_mode == "dynamic-private":
            return True
        return self.subscription_mode == "dynamic" and room not in self.sids

    def _on_create_room(self, room: str) -> None:
        if self._separate_channel(room):
            self._link.subscribe_nowait("shard", self._dynamic_channel(room), self._on_raw)

    def _on_delete_room(self, room: str) -> None:
        if self._separate_channel(room):
            self._link.unsubscribe("shard", self._dynamic_channel(room))

    def _dynamic_channel(self, room: str) -> str:
        return f"{self.channel}{room}#"

    async def _close(self) -> None:
        link = self._link
        link.unsubscribe("shard", self.channel)
        link.unsubscribe("shard", self.response_channel)
        if self.subscription_mode != "static":
            for room in list(self.rooms):
                if self._separate_channel(room):
                    link.unsubscribe("shard", self._dynamic_channel(room))
        await link.release()

    def close(self) -> Awaitable[None] | None:
        if self._closed:
            return None
        super().close()
        return self._close()

    def _compute_channel(self, message: ClusterMessage) -> str:
        # a broadcast with acks always uses the main channel: server_count() counts every server
        if message["type"] != MessageType.BROADCAST or self.subscription_mode == "static":
            return self.channel
        data = message["data"]
        rooms = data["opts"]["rooms"]
        if "requestId" in data or len(rooms) != 1:
            return self.channel
        room = rooms[0]
        if self.subscription_mode == "dynamic" and _looks_like_a_socket_id(room):
            return self.channel
        return self._dynamic_channel(room)

    @staticmethod
    def _encode(message: ClusterMessage) -> bytes | str:
        if message["type"] in _MAY_CONTAIN_BINARY and has_binary(message.get("data")):
            return pack(message)
        return _json.dumps(message)

    def do_publish(self, message: ClusterMessage) -> Awaitable[str | None]:
        future = self._link.send("SPUBLISH", self._compute_channel(message), self._encode(message))
        return cast("asyncio.Future[str | None]", future)  # no offset: the reply is a count

    def do_publish_response(self, requester_uid: str, response: ClusterMessage) -> Awaitable[None]:
        channel = f"{self.channel}{requester_uid}#"
        future = self._link.send("SPUBLISH", channel, self._encode(response))
        return cast("asyncio.Future[None]", future)

    def _on_raw(self, channel: str, payload: bytes) -> None:
        try:
            message = decode_json_or_msgpack(payload)
        except ValueError:
            logger.debug("[%s] dropped a malformed message", self.uid)
            return
        if not isinstance(message, dict):
            return
        if channel == self.response_channel:
            try:
                self.on_response(message)
            except Exception:
                logger.exception("[%s] could not handle a response", self.uid)
        else:
            self.on_message(message)

    async def server_count(self) -> int:
        reply = await self._link.command("PUBSUB", "SHARDNUMSUB", self.channel)
        return int(reply[1])


def create_sharded_adapter(
    client: RedisClient,
    *,
    channel_prefix: str = "socket.io",
    subscription_mode: SubscriptionMode = "dynamic",
    requests_timeout: float = 5.0,
    max_buffer: int | None = None,
    topology_check_interval: float | None = None,
    redirect_hold: float | None = None,
) -> Callable[[AdapterNamespace], ShardedRedisAdapter]:
    """``Server(adapter=create_sharded_adapter(redis.asyncio.Redis(...)))``: sharded pub/sub (Redis 7+).

    ``max_buffer``, ``topology_check_interval`` and ``redirect_hold`` as for :func:`create_adapter`.
    """
    link = link_for_client(
        client,
        max_buffer=max_buffer,
        topology_check_interval=topology_check_interval,
        redirect_hold=redirect_hold,
    )

    def factory(nsp: AdapterNamespace) -> ShardedRedisAdapter:
        return ShardedRedisAdapter(
            nsp,
            link,
            channel_prefix=channel_prefix,
            subscription_mode=subscription_mode,
            requests_timeout=requests_timeout,
        )

    return factory
