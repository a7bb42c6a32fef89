"""The cluster adapter: every cross-server operation of the reference ``ClusterAdapter``.

A :class:`ClusterAdapter` keeps its local rooms like the in-memory adapter and forwards each operation to
the other servers as a *cluster message* (a dict with the reference's field names)::

    {"uid": <server id>, "nsp": "/", "type": MessageType.BROADCAST,
     "data": {"packet": {...}, "opts": {"rooms": [...], "except": [...], "flags": {...}}}}

Subclasses move messages: they implement :meth:`ClusterAdapter.do_publish` (to every server) and
:meth:`ClusterAdapter.do_publish_response` (to one server), and call :meth:`ClusterAdapter.on_message` for
what arrives. :class:`ClusterAdapterWithHeartbeat` adds the reference's node tracking: each server
publishes a heartbeat when it has been quiet for ``heartbeat_interval``; a server not heard from for
``heartbeat_timeout`` is dropped, and requests stop waiting for it.

:class:`TransportAdapter` is a :class:`ClusterAdapterWithHeartbeat` over any object that satisfies the
small :class:`ClusterTransport` interface (``publish``, ``publish_response``, ``subscribe``);
:class:`InProcessBus` is one, for servers that share a process (tests, several namespaces of apps).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from enum import IntEnum
from typing import Any, Protocol

from aiosio.adapters._codec import (
    new_uid,
    opts_from_wire,
    opts_to_wire,
    pack,
    packet_from_wire,
    packet_to_wire,
    unpack,
)
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
from aiosio.adapters.base import (
    AdapterNamespace,
    AdapterSocket,
    BroadcastOptions,
    SocketDetails,
)
from aiosio.adapters.memory import InMemoryAdapter
from aiosio.exceptions import AckTimeoutError, AdapterError, RequestTimeoutError
from aiosio.protocol.socketio import Packet, PacketType

__all__ = [
    "EMITTER_UID",
    "ClusterAdapter",
    "ClusterAdapterWithHeartbeat",
    "ClusterMessage",
    "ClusterTransport",
    "InProcessBus",
    "MessageType",
    "TransportAdapter",
    "create_adapter",
]

logger = logging.getLogger("aiosio.adapter")

#: The ``uid`` of messages sent by an emitter (a process that is not a server): never counted as a node.
EMITTER_UID = "emitter"
#: Seconds a request waits for the other servers when no timeout is given (the reference's 5000 ms).
DEFAULT_REQUESTS_TIMEOUT = 5.0

ClusterMessage = dict[str, Any]


class MessageType(IntEnum):
    """The ``type`` of a cluster message (the numbers of the reference's enum)."""

    INITIAL_HEARTBEAT = 1
    HEARTBEAT = 2
    BROADCAST = 3
    SOCKETS_JOIN = 4
    SOCKETS_LEAVE = 5
    DISCONNECT_SOCKETS = 6
    FETCH_SOCKETS = 7
    FETCH_SOCKETS_RESPONSE = 8
    SERVER_SIDE_EMIT = 9
    SERVER_SIDE_EMIT_RESPONSE = 10
    BROADCAST_CLIENT_COUNT = 11
    BROADCAST_ACK = 12
    ADAPTER_CLOSE = 13


_RESPONSE_TYPES = frozenset(
    (
        MessageType.FETCH_SOCKETS_RESPONSE,
        MessageType.SERVER_SIDE_EMIT_RESPONSE,
        MessageType.BROADCAST_CLIENT_COUNT,
        MessageType.BROADCAST_ACK,
    )
)
_EVENT = int(PacketType.EVENT)


class _Request(PendingRequest):
    """A request to the other servers, waiting for their responses."""

    __slots__ = ("current", "expected", "kind", "missing")

    def __init__(
        self,
        kind: MessageType,
        future: asyncio.Future[list[Any]],
        expected: int,
        missing: set[str] | None,
        responses: list[Any],
    ) -> None:
        super().__init__(future, responses)
        self.kind = kind
        self.expected = expected
        #: ids of the servers that have not answered (heartbeat mode), else ``None`` (count mode)
        self.missing = missing
        self.current = 0

    @property
    def complete(self) -> bool:
        if self.missing is not None:
            return not self.missing
        return self.current >= self.expected

    def outstanding(self) -> int:
        if self.missing is not None:
            return len(self.missing)
        return max(self.expected - self.current, 0)


def _log_failure(future: asyncio.Future[Any]) -> None:
    if future.cancelled():
        return
    exc = future.exception()
    if exc is not None and not isinstance(exc, LinkClosedError):  # counted by the link
        logger.warning("cluster publish failed: %s", exc)


class ClusterAdapter(InMemoryAdapter):
    """A cluster-ready adapter. Subclasses implement :meth:`do_publish`, :meth:`do_publish_response`
    and :meth:`server_count`, and feed what they receive to :meth:`on_message`.

    ``requests_timeout`` (seconds) bounds :meth:`fetch_sockets` (unless the operator has its own
    ``timeout``) and :meth:`server_side_emit_with_ack`.
    """

    __slots__ = ("_ack_requests", "_closed", "_requests", "requests_timeout", "uid")

    #: True when :meth:`do_publish` returns an offset that clients may resume from (streams).
    provides_offsets = False

    def __init__(
        self, nsp: AdapterNamespace, *, requests_timeout: float = DEFAULT_REQUESTS_TIMEOUT
    ) -> None:
        super().__init__(nsp)
        #: this server's id in the cluster
        self.uid = new_uid()
        self.requests_timeout = requests_timeout
        self._requests: dict[str, _Request] = {}
        self._ack_requests: dict[str, AckRequest] = {}
        self._closed = False

    # -- what subclasses provide --------------------------------------------------------------------

    def do_publish(self, message: ClusterMessage) -> Awaitable[str | None]:
        """Send ``message`` to every server of the cluster (this one may receive it too: it is ignored).

        Serialize the message before returning (the caller may change the packet afterwards). Return an
        awaitable of the message's offset when the transport has one, else of ``None``. Raise
        :class:`~aiosio.exceptions.AdapterError` when the message cannot even be queued.
        """
        raise NotImplementedError

    def do_publish_response(self, requester_uid: str, response: ClusterMessage) -> Awaitable[None]:
        """Send ``response`` to the server ``requester_uid`` only (same rules as :meth:`do_publish`)."""
        raise NotImplementedError

    # -- publishing ---------------------------------------------------------------------------------

    def _stamp(self, message: ClusterMessage) -> ClusterMessage:
        message["uid"] = self.uid
        message["nsp"] = self.nsp.name
        return message

    def publish(self, message: ClusterMessage) -> asyncio.Future[str | None]:
        """Stamp ``message`` with this server's uid and namespace and hand it to :meth:`do_publish`.

        Returns a future of the offset; failures after queueing are logged, not raised.
        """
        result = self.do_publish(self._stamp(message))
        future = asyncio.ensure_future(result)
        future.add_done_callback(_log_failure)
        return future

    def publish_response(self, requester_uid: str, response: ClusterMessage) -> None:
        """Send ``response`` to one server; failures are logged."""
        try:
            result = self.do_publish_response(requester_uid, self._stamp(response))
        except Exception as exc:
            logger.warning("[%s] could not publish a response: %s", self.uid, exc)
            return
        asyncio.ensure_future(result).add_done_callback(_log_failure)

    # -- receiving ----------------------------------------------------------------------------------

    def on_message(self, message: ClusterMessage, offset: str | None = None) -> None:
        """Handle a message (or a response) from another server. Bad input is logged and dropped."""
        try:
            self._on_message(message, offset)
        except Exception:
            logger.exception("[%s] could not handle a cluster message", self.uid)

    def _on_message(self, message: ClusterMessage, offset: str | None) -> None:
        if not isinstance(message, dict):
            return
        uid = message.get("uid")
        if uid == self.uid:
            return
        nsp = message.get("nsp")
        if nsp is not None and nsp != self.nsp.name:
            return
        self._handle(message, uid, offset)

    def _handle(self, message: ClusterMessage, uid: Any, offset: str | None) -> None:
        """Act on a message from another server of this namespace (``uid``: its sender)."""
        kind = message.get("type")
        data = message.get("data")
        if not isinstance(data, dict):
            data = {}
        if kind == MessageType.BROADCAST:
            self._on_broadcast(message, data, offset)
        elif kind == MessageType.SOCKETS_JOIN:
            InMemoryAdapter.add_sockets(self, opts_from_wire(data.get("opts")), _rooms(data))
        elif kind == MessageType.SOCKETS_LEAVE:
            InMemoryAdapter.del_sockets(self, opts_from_wire(data.get("opts")), _rooms(data))
        elif kind == MessageType.DISCONNECT_SOCKETS:
            opts = opts_from_wire(data.get("opts"))
            InMemoryAdapter.disconnect_sockets(self, opts, bool(data.get("close")))
        elif kind == MessageType.FETCH_SOCKETS:
            self._on_fetch_sockets(message, data)
        elif kind == MessageType.SERVER_SIDE_EMIT:
            self._on_server_side_emit(message, data)
        elif kind in _RESPONSE_TYPES:
            self.on_response(message)
        else:
            logger.debug("[%s] unknown message type %r from %s", self.uid, kind, uid)

    def _on_broadcast(
        self, message: ClusterMessage, data: dict[str, Any], offset: str | None
    ) -> None:
        packet = packet_from_wire(data.get("packet"), self.nsp.name)
        if packet is None:
            return
        opts = opts_from_wire(data.get("opts"))
        request_id = data.get("requestId")
        if request_id is None:
            self._add_offset_if_necessary(packet, opts, offset)
            InMemoryAdapter.broadcast(self, packet, opts)
            return
        requester = message.get("uid")
        if not isinstance(requester, str):
            return

        def client_count(count: int) -> None:
            self.publish_response(
                requester,
                {
                    "type": MessageType.BROADCAST_CLIENT_COUNT,
                    "data": {"requestId": request_id, "clientCount": count},
                },
            )

        def ack(*args: Any) -> None:
            response: dict[str, Any] = {"requestId": request_id}
            if args:
                response["packet"] = args[0]
            self.publish_response(requester, {"type": MessageType.BROADCAST_ACK, "data": response})

        InMemoryAdapter.broadcast_with_ack(self, packet, opts, client_count, ack)

    def _on_fetch_sockets(self, message: ClusterMessage, data: dict[str, Any]) -> None:
        requester = message.get("uid")
        if not isinstance(requester, str):
            return
        opts = opts_from_wire(data.get("opts"))
        sockets = [socket_to_wire(socket) for socket in self._matching(opts)]
        self.publish_response(
            requester,
            {
                "type": MessageType.FETCH_SOCKETS_RESPONSE,
                "data": {"requestId": data.get("requestId"), "sockets": sockets},
            },
        )

    def _on_server_side_emit(self, message: ClusterMessage, data: dict[str, Any]) -> None:
        packet = data.get("packet")
        if not isinstance(packet, list) or not packet or not isinstance(packet[0], str):
            return
        event, args = packet[0], packet[1:]
        request_id = data.get("requestId")
        requester = message.get("uid")
        if request_id is None or not isinstance(requester, str):
            self.nsp.handle_server_side_emit(event, args, None)
            return
        called = False

        def callback(*values: Any) -> None:
            nonlocal called
            if called:  # only one answer per server
                return
            called = True
            response: dict[str, Any] = {"requestId": request_id}
            if values:
                response["packet"] = values[0]
            self.publish_response(
                requester, {"type": MessageType.SERVER_SIDE_EMIT_RESPONSE, "data": response}
            )

        self.nsp.handle_server_side_emit(event, args, callback)

    def on_response(self, response: ClusterMessage) -> None:
        """Handle a response to one of this server's requests."""
        data = response.get("data")
        if not isinstance(data, dict):
            return
        request_id = data.get("requestId")
        if not isinstance(request_id, str):
            return
        kind = response.get("type")
        if kind == MessageType.BROADCAST_CLIENT_COUNT or kind == MessageType.BROADCAST_ACK:
            ack_request = self._ack_requests.get(request_id)
            if ack_request is not None:
                ack_request.answer(kind == MessageType.BROADCAST_CLIENT_COUNT, data)
        elif kind == MessageType.FETCH_SOCKETS_RESPONSE:
            request = self._requests.get(request_id)
            sockets = data.get("sockets")
            if request is None or not isinstance(sockets, list):
                return
            for item in sockets:
                details = socket_from_wire(item)
                if details is not None:
                    request.responses.append(details)
            self._answered(request_id, request, response.get("uid"))
        elif kind == MessageType.SERVER_SIDE_EMIT_RESPONSE:
            request = self._requests.get(request_id)
            if request is None:
                return
            request.responses.append(data.get("packet"))
            self._answered(request_id, request, response.get("uid"))

    def _answered(self, request_id: str, request: _Request, uid: Any) -> None:
        if request.missing is not None:
            request.missing.discard(uid)
        else:
            request.current += 1
        if request.complete:
            del self._requests[request_id]
            request.finish()

    # -- recovery offsets ---------------------------------------------------------------------------

    def _wants_offset(self, packet: Packet, opts: BroadcastOptions) -> bool:
        return (
            self.provides_offsets
            and self.nsp.recovery is not None
            and packet.type == _EVENT
            and packet.id is None
            and not opts.flags.volatile
        )

    def _add_offset_if_necessary(
        self, packet: Packet, opts: BroadcastOptions, offset: str | None
    ) -> None:
        if offset and self._wants_offset(packet, opts):
            packet.data.append(offset)

    # -- the operations -----------------------------------------------------------------------------

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        if opts.flags.local:
            super().broadcast(packet, opts)
            return
        packet.nsp = self.nsp.name
        message = {
            "type": MessageType.BROADCAST,
            "data": {"packet": packet_to_wire(packet), "opts": opts_to_wire(opts)},
        }
        future = self.publish(message)
        if not self._wants_offset(packet, opts):
            super().broadcast(packet, opts)
            return

        # the local copy carries the offset the transport assigned: deliver it once known
        def deliver(done: asyncio.Future[str | None]) -> None:
            offset = None
            if not done.cancelled() and done.exception() is None:
                offset = done.result()
            self._add_offset_if_necessary(packet, opts, offset)
            InMemoryAdapter.broadcast(self, packet, opts)

        future.add_done_callback(deliver)

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count_callback: Callable[[int], None],
        ack: Callable[..., None],
    ) -> None:
        if not opts.flags.local:
            request_id = new_uid()
            packet.nsp = self.nsp.name
            self.publish(
                {
                    "type": MessageType.BROADCAST,
                    "data": {
                        "packet": packet_to_wire(packet),
                        "requestId": request_id,
                        "opts": opts_to_wire(opts),
                    },
                }
            )
            # nobody tells this layer when the last client answered: forget the request after the
            # operator's timeout (or the requests timeout when the operator has none)
            ttl = opts.flags.timeout if opts.flags.timeout is not None else self.requests_timeout
            track_ack(self._ack_requests, request_id, client_count_callback, ack, ttl)
        super().broadcast_with_ack(packet, opts, client_count_callback, ack)

    def add_sockets(self, opts: BroadcastOptions, rooms: Sequence[str]) -> None:
        if not opts.flags.local:
            self.publish(
                {
                    "type": MessageType.SOCKETS_JOIN,
                    "data": {"opts": opts_to_wire(opts), "rooms": list(rooms)},
                }
            )
        super().add_sockets(opts, rooms)

    def del_sockets(self, opts: BroadcastOptions, rooms: Sequence[str]) -> None:
        if not opts.flags.local:
            self.publish(
                {
                    "type": MessageType.SOCKETS_LEAVE,
                    "data": {"opts": opts_to_wire(opts), "rooms": list(rooms)},
                }
            )
        super().del_sockets(opts, rooms)

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        if not opts.flags.local:
            self.publish(
                {
                    "type": MessageType.DISCONNECT_SOCKETS,
                    "data": {"opts": opts_to_wire(opts), "close": close},
                }
            )
        super().disconnect_sockets(opts, close)

    async def _responders(self) -> tuple[int, set[str] | None]:
        """How many servers must answer a request (and which ones, when known)."""
        return await self.server_count() - 1, None

    async def _request(
        self,
        kind: MessageType,
        data: dict[str, Any],
        responses: list[Any],
        wait: float | None,
    ) -> list[Any]:
        expected, missing = await self._responders()
        if expected <= 0:
            return responses
        if self._closed:
            raise AdapterError("the adapter is closed")
        request_id = new_uid()
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        request = _Request(kind, future, expected, missing, responses)
        delay = wait if wait is not None else self.requests_timeout
        data["requestId"] = request_id
        result: list[Any] = await send_request(
            self._requests,
            request_id,
            request,
            delay,
            self._request_timed_out,
            lambda: self.publish({"type": kind, "data": data}),
        )
        return result

    def _request_timed_out(self, request_id: str) -> None:
        request = self._requests.pop(request_id, None)
        if request is None or request.future.done():
            return
        if self._on_timeout(request):
            return
        # the reference's words: ClusterAdapter counts, ClusterAdapterWithHeartbeat names the missing
        if request.missing is not None:
            message = f"timeout reached: missing {len(request.missing)} responses"
        else:
            message = (
                f"timeout reached: only {request.current} responses received "
                f"out of {request.expected}"
            )
        error: Exception
        if request.kind == MessageType.FETCH_SOCKETS:
            error = RequestTimeoutError(message, responses=request.responses)
        else:
            error = AckTimeoutError(message, responses=request.responses)
        request.future.set_exception(error)

    def _on_timeout(self, request: _Request) -> bool:
        """Settle a timed-out request another way; True when done (a subclass hook)."""
        return False

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[AdapterSocket | SocketDetails]:
        """The matching sockets of every server.

        Raises :class:`~aiosio.exceptions.RequestTimeoutError` (the reference's message, the sockets
        gathered so far in ``responses``) when some server does not answer within ``opts.flags.timeout``
        (or :attr:`requests_timeout`).
        """
        local: list[AdapterSocket | SocketDetails] = list(self._matching(opts))
        if opts.flags.local:
            return local
        data = {"opts": opts_to_wire(opts)}
        return await self._request(MessageType.FETCH_SOCKETS, data, local, opts.flags.timeout)

    async def sockets(self, rooms: Any) -> set[str]:
        found = await self.fetch_sockets(BroadcastOptions(rooms=frozenset(rooms)))
        return {socket.id for socket in found}

    def server_side_emit(self, event: str, args: Sequence[Any]) -> None:
        self.publish({"type": MessageType.SERVER_SIDE_EMIT, "data": {"packet": [event, *args]}})

    async def server_side_emit_with_ack(self, event: str, args: Sequence[Any]) -> list[Any]:
        data = {"packet": [event, *args]}
        return await self._request(MessageType.SERVER_SIDE_EMIT, data, [], None)

    def close(self) -> Awaitable[None] | None:
        self._closed = True
        close_requests(self._requests, self._ack_requests)
        return None


def _rooms(data: dict[str, Any]) -> list[str]:
    rooms = data.get("rooms")
    if not isinstance(rooms, list):
        return []
    return [room for room in rooms if isinstance(room, str)]


class ClusterAdapterWithHeartbeat(ClusterAdapter):
    """A :class:`ClusterAdapter` that knows the other servers by their messages and heartbeats.

    ``server_count()`` is one plus the servers heard from within ``heartbeat_timeout``. Requests wait
    for exactly those servers; a server that goes silent is dropped after ``heartbeat_timeout`` (checked
    every ``dead_node_eviction_interval``) and pending requests stop waiting for it.
    """

    __slots__ = (
        "_eviction_timer",
        "_heartbeat_timer",
        "_last_publish",
        "dead_node_eviction_interval",
        "heartbeat_interval",
        "heartbeat_timeout",
        "nodes",
    )

    def __init__(
        self,
        nsp: AdapterNamespace,
        *,
        heartbeat_interval: float = 5.0,
        heartbeat_timeout: float = 10.0,
        dead_node_eviction_interval: float = 1.0,
        requests_timeout: float = DEFAULT_REQUESTS_TIMEOUT,
    ) -> None:
        if heartbeat_interval <= 0 or heartbeat_timeout <= 0 or dead_node_eviction_interval <= 0:
            raise ValueError("heartbeat intervals and timeouts must be positive")
        super().__init__(nsp, requests_timeout=requests_timeout)
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.dead_node_eviction_interval = dead_node_eviction_interval
        #: server id -> monotonic time of its last message
        self.nodes: dict[str, float] = {}
        self._last_publish = 0.0
        self._heartbeat_timer: asyncio.TimerHandle | None = None
        self._eviction_timer: asyncio.TimerHandle | None = None

    def _start_timers(self) -> None:
        loop = asyncio.get_running_loop()
        self._heartbeat_timer = loop.call_later(self.heartbeat_interval, self._heartbeat_tick)
        self._eviction_timer = loop.call_later(self.dead_node_eviction_interval, self._evict_tick)

    def start(self) -> None:
        """Announce this server (INITIAL_HEARTBEAT: the others answer with a HEARTBEAT) and start the
        timers. Call once the transport delivers messages."""
        self.publish({"type": MessageType.INITIAL_HEARTBEAT})
        self._start_timers()

    def _heartbeat_tick(self) -> None:
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        due = self._last_publish + self.heartbeat_interval
        now = time.monotonic()
        if now >= due - 0.001:
            self.publish({"type": MessageType.HEARTBEAT})
            due = now + self.heartbeat_interval
        self._heartbeat_timer = loop.call_later(max(due - now, 0.001), self._heartbeat_tick)

    def _evict_tick(self) -> None:
        if self._closed:
            return
        now = time.monotonic()
        dead = [uid for uid, seen in self.nodes.items() if now - seen > self.heartbeat_timeout]
        for uid in dead:
            logger.info("[%s] server %s seems down", self.uid, uid)
            self._remove_node(uid)
        loop = asyncio.get_running_loop()
        self._eviction_timer = loop.call_later(self.dead_node_eviction_interval, self._evict_tick)

    def _remove_node(self, uid: str) -> None:
        self.nodes.pop(uid, None)
        for request_id, request in list(self._requests.items()):
            if request.missing is not None:
                request.missing.discard(uid)
                if request.complete:
                    del self._requests[request_id]
                    request.finish()

    def publish(self, message: ClusterMessage) -> asyncio.Future[str | None]:
        self._last_publish = time.monotonic()
        return super().publish(message)

    def _handle(self, message: ClusterMessage, uid: Any, offset: str | None) -> None:
        if isinstance(uid, str) and uid and uid != EMITTER_UID:
            self.nodes[uid] = time.monotonic()
        kind = message.get("type")
        if kind == MessageType.INITIAL_HEARTBEAT:
            self.publish({"type": MessageType.HEARTBEAT})
        elif kind == MessageType.HEARTBEAT:
            pass
        elif kind == MessageType.ADAPTER_CLOSE:
            if isinstance(uid, str):
                self._remove_node(uid)
        else:
            super()._handle(message, uid, offset)

    async def server_count(self) -> int:
        return 1 + len(self.nodes)

    async def _responders(self) -> tuple[int, set[str] | None]:
        return len(self.nodes), set(self.nodes)

    def close(self) -> Awaitable[None] | None:
        if not self._closed:
            try:
                self.publish({"type": MessageType.ADAPTER_CLOSE})
            except Exception as exc:
                logger.debug("[%s] could not announce the close: %s", self.uid, exc)
        for timer in (self._heartbeat_timer, self._eviction_timer):
            if timer is not None:
                timer.cancel()
        return super().close()


class ClusterTransport(Protocol):
    """What moves cluster messages between the servers of a cluster.

    Messages are dicts (see the module docstring); a transport serializes them as it likes. Every
    message of namespace ``nsp`` published by any server reaches every subscriber of ``nsp``
    (the sender may get its own: it is ignored); a response reaches the one server it names.
    """

    def publish(self, message: ClusterMessage) -> Awaitable[str | None]:
        """Send a message to every server subscribed to ``message["nsp"]``."""
        ...

    def publish_response(self, node_id: str, message: ClusterMessage) -> Awaitable[None]:
        """Send a message to the server ``node_id`` only."""
        ...

    def subscribe(
        self,
        nsp: str,
        node_id: str,
        callback: Callable[[ClusterMessage, str | None], None],
    ) -> Awaitable[None] | None:
        """Deliver the messages of ``nsp`` and the responses for ``node_id`` to ``callback``."""
        ...

    def unsubscribe(self, nsp: str, node_id: str) -> Awaitable[None] | None:
        """Stop the deliveries :meth:`subscribe` set up."""
        ...


class TransportAdapter(ClusterAdapterWithHeartbeat):
    """A :class:`ClusterAdapterWithHeartbeat` over a :class:`ClusterTransport`."""

    __slots__ = ("transport",)

    def __init__(self, nsp: AdapterNamespace, transport: ClusterTransport, **options: Any) -> None:
        super().__init__(nsp, **options)
        self.transport = transport

    def do_publish(self, message: ClusterMessage) -> Awaitable[str | None]:
        return self.transport.publish(message)

    def do_publish_response(self, requester_uid: str, response: ClusterMessage) -> Awaitable[None]:
        return self.transport.publish_response(requester_uid, response)

    async def _init(self) -> None:
        result = self.transport.subscribe(self.nsp.name, self.uid, self.on_message)
        if result is not None:
            await result
        self.start()

    def init(self) -> Awaitable[None]:
        return self._init()

    def close(self) -> Awaitable[None] | None:
        super().close()
        return self.transport.unsubscribe(self.nsp.name, self.uid)


def create_adapter(
    transport: ClusterTransport, **options: Any
) -> Callable[[AdapterNamespace], TransportAdapter]:
    """``Server(adapter=create_adapter(transport, heartbeat_interval=..., ...))``."""

    def factory(nsp: AdapterNamespace) -> TransportAdapter:
        return TransportAdapter(nsp, transport, **options)

    return factory


class InProcessBus:
    """A :class:`ClusterTransport` between servers that live in one process.

    Each message is msgpack-encoded when published and decoded for each receiver, so servers share no
    objects, and delivered on a later turn of the event loop, as a network would.
    """

    def __init__(self) -> None:
        self._subscribers: dict[str, dict[str, Callable[[ClusterMessage, str | None], None]]] = {}
        self._offset = 0

    def _resolved(self, value: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(value)
        return future

    def publish(self, message: ClusterMessage) -> Awaitable[str | None]:
        raw = pack(message)
        self._offset += 1
        offset = f"{self._offset}-0"
        loop = asyncio.get_running_loop()
        for callback in list(self._subscribers.get(message["nsp"], {}).values()):
            loop.call_soon(_deliver, callback, raw, offset)
        return self._resolved(offset)

    def publish_response(self, node_id: str, message: ClusterMessage) -> Awaitable[None]:
        raw = pack(message)
        callback = self._subscribers.get(message["nsp"], {}).get(node_id)
        if callback is not None:
            asyncio.get_running_loop().call_soon(_deliver, callback, raw, None)
        return self._resolved(None)

    def subscribe(
        self,
        nsp: str,
        node_id: str,
        callback: Callable[[ClusterMessage, str | None], None],
    ) -> None:
        self._subscribers.setdefault(nsp, {})[node_id] = callback

    def unsubscribe(self, nsp: str, node_id: str) -> None:
        subscribers = self._subscribers.get(nsp)
        if subscribers is not None:
            subscribers.pop(node_id, None)


def _deliver(
    callback: Callable[[ClusterMessage, str | None], None], raw: bytes, offset: str | None
) -> None:
    callback(unpack(raw), offset)
