"""The Redis streams adapter, wire-compatible with ``@socket.io/redis-streams-adapter`` (0.3.x).

Durable messages (broadcasts, joins, leaves, disconnects) are appended to the stream ``socket.io``
(``XADD socket.io MAXLEN ~ 10000 * uid <uid> nsp <nsp> type <"3"> data <JSON, or base64 msgpack when
binary>``) and every server reads the stream (``XREAD BLOCK``). Ephemeral messages (broadcasts with acks,
server-side emits, fetch requests) and all responses travel over pub/sub as msgpack: requests on
``socket.io#<nsp>#``, responses on ``socket.io#<nsp>#<uid>#``. ``server_count()`` is ``PUBSUB NUMSUB`` of
the public channel.

On a Redis Cluster (a ``redis.asyncio.RedisCluster`` client, as the reference takes a cluster client) the
stream lives on the master of its key's slot: ``XADD`` and the reader's ``XREAD`` go there, sessions to the
master of their key, pub/sub as with the sharded / classic adapters on a cluster (see
:mod:`aiosio.adapters._redis_cluster_link`, which also follows the stream's slot when it moves).

Connection state recovery works across servers: the stream entry id is the offset a client resumes from;
a disconnected socket's session is stored under ``sio:session:<pid>`` (base64 msgpack of
``{sid, pid, rooms, data}``, expiring after ``max_disconnection_duration``) and the server the client
comes back to reads the packets it missed back from the stream.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ResponseError

from aiosio import _json
from aiosio.adapters._codec import has_binary, opts_from_wire, pack, unpack
from aiosio.adapters._redis_cluster_link import RedisClusterLink, is_redirection, link_for_client
from aiosio.adapters._redis_link import _LINK_ERRORS, RedisLink
from aiosio.adapters._shared_link import LinkClosedError
from aiosio.adapters.base import AdapterNamespace, Session, SessionToPersist
from aiosio.adapters.cluster import ClusterAdapter, ClusterMessage, MessageType

__all__ = ["RedisStreamsAdapter", "create_adapter", "hash_code"]

logger = logging.getLogger("aiosio.adapter")

_OFFSET = re.compile(r"^[0-9]+-[0-9]+$")
_RESTORE_MAX_XRANGE_CALLS = 100
_MAY_CONTAIN_BINARY = frozenset(
    (
        MessageType.BROADCAST,
        MessageType.FETCH_SOCKETS_RESPONSE,
        MessageType.SERVER_SIDE_EMIT,
        MessageType.SERVER_SIDE_EMIT_RESPONSE,
        MessageType.BROADCAST_ACK,
    )
)


def hash_code(text: str) -> int:
    """Java's ``String.hashCode`` on UTF-16 code units, as the reference picks a stream per namespace."""
    value = 0
    data = text.encode("utf-16-le")
    for i in range(0, len(data), 2):
        value = (value * 31 + int.from_bytes(data[i : i + 2], "little")) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _js_remainder(value: int, divisor: int) -> int:
    """``value % divisor`` with JavaScript's sign rule (the result takes the sign of ``value``)."""
    rest = abs(value) % divisor
    return -rest if value < 0 else rest


def _is_ephemeral(message: ClusterMessage) -> bool:
    kind = message["type"]
    if kind == MessageType.BROADCAST:
        return "requestId" in message["data"]
    return kind in (MessageType.SERVER_SIDE_EMIT, MessageType.FETCH_SOCKETS)


def _next_offset(offset: str) -> str:
    timestamp, _, sequence = offset.partition("-")
    return f"{timestamp}-{int(sequence) + 1}"


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _fields(raw: Any) -> dict[str, str]:
    """A stream entry's flat ``[k1, v1, k2, v2...]`` (or dict) as a dict of text."""
    if isinstance(raw, dict):
        return {_text(k): _text(v) for k, v in raw.items()}
    items = list(raw)
    return {_text(items[i]): _text(items[i + 1]) for i in range(0, len(items) - 1, 2)}


def decode_entry(fields: dict[str, str]) -> ClusterMessage:
    """A stream entry back to a cluster message (raises ``ValueError`` when malformed)."""
    message: ClusterMessage = {
        "uid": fields.get("uid"),
        "nsp": fields.get("nsp"),
        "type": int(fields.get("type", "")),
    }
    data = fields.get("data")
    if data:
        if data.startswith("{"):
            message["data"] = _json.loads(data)
        else:
            message["data"] = unpack(base64.b64decode(data))
    return message


class _StreamReader:
    """Reads one stream for every namespace adapter of a server, resuming after reconnects."""

    def __init__(
        self,
        link: RedisLink | RedisClusterLink,
        stream: str,
        read_count: int,
        block_time: float,
    ) -> None:
        self.link = link
        self.stream = stream
        self.read_count = read_count
        self.block_ms = max(int(block_time * 1000), 1)
        self.adapters: dict[str, RedisStreamsAdapter] = {}
        self.offset: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        # a cancellation that lands as a read times out can be swallowed (asyncio.timeout on 3.11):
        # the loops also check this flag
        self._stopping = False

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            loop = asyncio.get_running_loop()
            self._ready = loop.create_future()
            self._task = loop.create_task(self._run())
        assert self._ready is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._ready), self.link.subscribe_timeout)

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._stopping = True
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self) -> None:
        delay = 0.0
        down = False
        while not self._stopping:
            try:
                await self.link.initialize()
                conn = self.link.new_connection(self.stream)
            except Exception as exc:
                logger.warning("Redis stream reader cannot find the stream's master: %s", exc)
                delay = min(max(delay * 2, self.link.retry_min_delay), self.link.retry_max_delay)
                await asyncio.sleep(delay)
                continue
            try:
                await conn.connect()  # type: ignore[no-untyped-call]
                if self.offset is None:
                    # start after the newest entry (what "$" means, without the race of a first XREAD)
                    await conn.send_command("XREVRANGE", self.stream, "+", "-", "COUNT", "1")
                    last = await conn.read_response()
                    self.offset = _text(last[0][0]) if last else "0-0"
                if self._ready is not None and not self._ready.done():
                    self._ready.set_result(None)
                if down:
                    logger.info("Redis stream reader reconnected; resuming after %s", self.offset)
                    down = False
                delay = 0.0
                while not self._stopping:
                    await conn.send_command(
                        "XREAD",
                        "COUNT",
                        self.read_count,
                        "BLOCK",
                        self.block_ms,
                        "STREAMS",
                        self.stream,
                        self.offset,
                    )
                    reply = await conn.read_response(timeout=self.block_ms / 1000 + 5.0)
                    if reply:
                        self._dispatch(reply)
                    if self.link.is_stale(conn):
                        raise ConnectionError("Redis Sentinel names a new master")
            except ResponseError as exc:
                # the stream's slot moved (or is moving) to another master: read there
                if not is_redirection(exc) or not isinstance(self.link, RedisClusterLink):
                    logger.warning("Redis refused to read the stream: %s", exc)
                    delay = min(
                        max(delay * 2, self.link.retry_min_delay), self.link.retry_max_delay
                    )
                    await asyncio.sleep(delay)
                    continue
                logger.info(
                    "Redis stream reader redirected (%s); resuming after %s", exc, self.offset
                )
                await asyncio.sleep(0.01)
                with contextlib.suppress(Exception):
                    await self.link.refresh()
            except _LINK_ERRORS as exc:
                if not down:
                    logger.warning(
                        "Redis stream reader lost its connection (%s); reconnecting", exc
                    )
                    down = True
                if isinstance(self.link, RedisClusterLink):
                    # the stream's master may have failed over to its replica
                    with contextlib.suppress(Exception):
                        await self.link.refresh()
                delay = min(max(delay * 2, self.link.retry_min_delay), self.link.retry_max_delay)
                await asyncio.sleep(delay)
            finally:
                with contextlib.suppress(Exception):
                    await conn.disconnect()

    def _dispatch(self, reply: Any) -> None:
        for _stream, entries in reply:
            for entry_id, raw_fields in entries:
                offset = _text(entry_id)
                self.offset = offset
                try:
                    fields = _fields(raw_fields)
                    adapter = self.adapters.get(fields.get("nsp", ""))
                    if adapter is not None:
                        adapter.on_message(decode_entry(fields), offset)
                except ValueError:
                    logger.debug("dropped a malformed stream entry %s", offset)
                except Exception:
                    logger.exception("could not handle stream entry %s", offset)


class RedisStreamsAdapter(ClusterAdapter):
    """The Redis streams adapter (see the module docstring)."""

    __slots__ = (
        "_link",
        "_reader",
        "max_len",
        "only_plaintext",
        "private_channel",
        "public_channel",
        "session_key_prefix",
        "stream_name",
        "use_sharded_pubsub",
    )

    provides_offsets = True

    def __init__(
        self,
        nsp: AdapterNamespace,
        link: RedisLink | RedisClusterLink,
        reader: _StreamReader,
        *,
        channel_prefix: str = "socket.io",
        use_sharded_pubsub: bool = False,
        max_len: int = 10_000,
        session_key_prefix: str = "sio:session:",
        only_plaintext: bool = False,
        requests_timeout: float = 5.0,
    ) -> None:
        super().__init__(nsp, requests_timeout=requests_timeout)
        self._link = link
        self._reader = reader
        self.stream_name = reader.stream
        self.max_len = max_len
        self.session_key_prefix = session_key_prefix
        self.only_plaintext = only_plaintext
        self.use_sharded_pubsub = use_sharded_pubsub
        self.public_channel = f"{channel_prefix}#{nsp.name}#"
        self.private_channel = f"{channel_prefix}#{nsp.name}#{self.uid}#"

    @property
    def connected(self) -> bool:
        """True while this server's subscriber connection(s) are up with every subscription confirmed."""
        return self._link.connected

    @property
    def _kind(self) -> Any:
        return "shard" if self.use_sharded_pubsub else "channel"

    @property
    def _publish_command(self) -> str:
        return "SPUBLISH" if self.use_sharded_pubsub else "PUBLISH"

    async def _init(self) -> None:
        self._link.acquire()
        self._reader.adapters[self.nsp.name] = self
        await asyncio.gather(
            self._link.subscribe(self._kind, self.public_channel, self._on_pubsub),
            self._link.subscribe(self._kind, self.private_channel, self._on_pubsub),
            self._reader.start(),
        )

    def init(self) -> Awaitable[None]:
        return self._init()

    async def _close(self) -> None:
        self._link.unsubscribe(self._kind, self.public_channel)
        self._link.unsubscribe(self._kind, self.private_channel)
        if self._reader.adapters.get(self.nsp.name) is self:
            del self._reader.adapters[self.nsp.name]
        if not self._reader.adapters:
            await self._reader.stop()
        await self._link.release()

    def close(self) -> Awaitable[None] | None:
        if self._closed:
            return None
        super().close()
        return self._close()

    def _on_pubsub(self, channel: str, payload: bytes) -> None:
        try:
            message = unpack(payload)
        except ValueError:
            logger.debug("[%s] dropped a malformed message", self.uid)
            return
        self.on_message(message)

    def _encode_entry(self, message: ClusterMessage) -> list[Any]:
        fields: list[Any] = [
            "uid",
            message["uid"],
            "nsp",
            message["nsp"],
            "type",
            str(message["type"]),
        ]
        data = message.get("data")
        if data:
            if (
                not self.only_plaintext
                and message["type"] in _MAY_CONTAIN_BINARY
                and has_binary(data)
            ):
                fields += ["data", base64.b64encode(pack(data)).decode("ascii")]
            else:
                fields += ["data", _json.dumps(data)]
        return fields

    def do_publish(self, message: ClusterMessage) -> Awaitable[str | None]:
        if _is_ephemeral(message):
            future = self._link.send(self._publish_command, self.public_channel, pack(message))
            return cast("asyncio.Future[str | None]", future)  # no offset for pub/sub
        entry = self._encode_entry(message)
        future = self._link.send("XADD", self.stream_name, "MAXLEN", "~", self.max_len, "*", *entry)
        result: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

        def done(sent: asyncio.Future[Any]) -> None:
            if sent.cancelled():
                result.cancel()
            elif sent.exception() is not None:
                result.set_exception(cast(BaseException, sent.exception()))
            else:
                result.set_result(_text(sent.result()))

        future.add_done_callback(done)
        return result

    def do_publish_response(self, requester_uid: str, response: ClusterMessage) -> Awaitable[None]:
        channel = f"{self.public_channel}{requester_uid}#"
        future = self._link.send(self._publish_command, channel, pack(response))
        return cast("asyncio.Future[None]", future)

    async def server_count(self) -> int:
        command = "SHARDNUMSUB" if self.use_sharded_pubsub else "NUMSUB"
        reply = await self._link.command("PUBSUB", command, self.public_channel)
        return int(reply[1])

    # -- connection state recovery ----------------------------------------------------------------

    def persist_session(self, session: SessionToPersist) -> None:
        recovery = self.nsp.recovery
        ttl_ms = round((recovery.max_disconnection_duration if recovery else 120.0) * 1000)
        raw = {"sid": session.sid, "pid": session.pid, "rooms": session.rooms, "data": session.data}
        try:
            encoded = base64.b64encode(pack(raw)).decode("ascii")
            future = self._link.send(
                "SET", self.session_key_prefix + session.pid, encoded, "PX", ttl_ms
            )
        except Exception as exc:
            logger.warning("[%s] could not persist a session: %s", self.uid, exc)
            return
        future.add_done_callback(_log_failure)

    async def restore_session(self, pid: str, offset: str) -> Session | None:
        if not _OFFSET.match(offset):
            return None
        key = self.session_key_prefix + pid
        link = self._link
        try:
            # two keys, maybe two masters of a cluster: as the reference, two requests
            raw_session, at_offset = await asyncio.gather(
                link.take(key), link.command("XRANGE", self.stream_name, offset, offset)
            )
        except Exception as exc:
            logger.warning("[%s] could not restore a session: %s", self.uid, exc)
            return None
        if not raw_session or not at_offset:
            return None
        try:
            stored = unpack(base64.b64decode(raw_session))
        except ValueError:
            return None
        if not isinstance(stored, dict) or not isinstance(stored.get("sid"), str):
            return None
        rooms = [room for room in stored.get("rooms") or [] if isinstance(room, str)]
        missed: list[list[Any]] = []
        for _ in range(_RESTORE_MAX_XRANGE_CALLS):
            entries = await link.command("XRANGE", self.stream_name, _next_offset(offset), "+")
            if not entries:
                break
            for entry_id, raw_fields in entries:
                entry_offset = _text(entry_id)
                offset = entry_offset
                try:
                    fields = _fields(raw_fields)
                    if fields.get("nsp") != self.nsp.name or fields.get("type") != "3":
                        continue
                    message = decode_entry(fields)
                except ValueError:
                    continue
                data = message.get("data")
                if not isinstance(data, dict):
                    continue
                packet = data.get("packet")
                if not isinstance(packet, dict) or not isinstance(packet.get("data"), list):
                    continue
                opts = opts_from_wire(data.get("opts"))
                included = not opts.rooms or any(room in opts.rooms for room in rooms)
                if included and not any(room in opts.except_ for room in rooms):
                    missed.append([*packet["data"], entry_offset])
        return Session(
            sid=stored["sid"],
            pid=pid,
            rooms=rooms,
            data=stored.get("data"),
            missed_packets=missed,
        )


def _log_failure(future: asyncio.Future[Any]) -> None:
    if future.cancelled():
        return
    exc = future.exception()
    if exc is not None and not isinstance(exc, LinkClosedError):  # counted by the link
        logger.warning("Redis command failed: %s", exc)


def create_adapter(
    client: Redis | RedisCluster | RedisLink | RedisClusterLink,
    *,
    stream_name: str = "socket.io",
    stream_count: int = 1,
    channel_prefix: str = "socket.io",
    use_sharded_pubsub: bool = False,
    max_len: int = 10_000,
    read_count: int = 100,
    block_time: float = 5.0,
    session_key_prefix: str = "sio:session:",
    only_plaintext: bool = False,
    requests_timeout: float = 5.0,
    max_buffer: int | None = None,
    topology_check_interval: float | None = None,
    redirect_hold: float | None = None,
) -> Callable[[AdapterNamespace], RedisStreamsAdapter]:
    """``Server(adapter=create_adapter(redis.asyncio.Redis(...)))``: the Redis streams adapter.

    With ``stream_count > 1`` namespaces are spread over ``<stream_name>-<i>`` like the reference. A
    ``redis.asyncio.RedisCluster`` client works too (the stream on the master of its slot).
    ``max_buffer``, ``topology_check_interval`` and ``redirect_hold`` as for
    :func:`aiosio.adapters.redis.create_adapter`.
    """
    if stream_count < 1:
        raise ValueError("stream_count must be at least 1")
    link = link_for_client(
        client,
        max_buffer=max_buffer,
        topology_check_interval=topology_check_interval,
        redirect_hold=redirect_hold,
    )
    readers: dict[str, _StreamReader] = {}

    def reader_for(nsp_name: str) -> _StreamReader:
        if stream_count == 1:
            name = stream_name
        else:
            name = f"{stream_name}-{_js_remainder(hash_code(nsp_name), stream_count)}"
        reader = readers.get(name)
        if reader is None:
            reader = readers[name] = _StreamReader(link, name, read_count, block_time)
        return reader

    def factory(nsp: AdapterNamespace) -> RedisStreamsAdapter:
        return RedisStreamsAdapter(
            nsp,
            link,
            reader_for(nsp.name),
            channel_prefix=channel_prefix,
            use_sharded_pubsub=use_sharded_pubsub,
            max_len=max_len,
            session_key_prefix=session_key_prefix,
            only_plaintext=only_plaintext,
            requests_timeout=requests_timeout,
        )

    return factory
