"""What the Redis adapters put on the wire, read back with a plain Redis client, and the codecs."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator
from typing import Any

import msgpack
import orjson
import pytest
from redis.asyncio import Redis

from aiosio.adapters import emitter as emitter_module
from aiosio.adapters._codec import flags_from_wire, flags_to_wire, opts_from_wire, pack, unpack
from aiosio.adapters.base import BroadcastFlags
from aiosio.adapters.cluster import MessageType
from aiosio.adapters.redis_streams import _js_remainder, hash_code
from aiosio.server import RemoteSocket, Server

from .cluster_support import adapter_factory, eventually


class Tap:
    """A plain Redis subscriber recording ``(channel, payload)``."""

    def __init__(self, client: Redis) -> None:
        self.pubsub = client.pubsub()
        self.messages: list[tuple[str, bytes]] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self, *, patterns: tuple[str, ...] = (), channels: tuple[str, ...] = (),
                    shards: tuple[str, ...] = ()) -> None:  # fmt: skip
        if patterns:
            await self.pubsub.psubscribe(*patterns)
        if channels:
            await self.pubsub.subscribe(*channels)
        if shards:
            await self.pubsub.ssubscribe(*shards)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None:
                continue
            if message["type"] in ("message", "pmessage", "smessage"):
                self.messages.append((message["channel"].decode(), message["data"]))

    async def take(self, channel_prefix: str) -> tuple[str, bytes]:
        def find() -> tuple[str, bytes] | None:
            for i, (channel, data) in enumerate(self.messages):
                if channel.startswith(channel_prefix):
                    del self.messages[i]
                    return channel, data
            return None

        found: tuple[str, bytes] = await eventually(find, lambda value: value is not None)
        return found

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.pubsub.aclose()  # type: ignore[no-untyped-call]


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def tap(redis: Redis) -> AsyncIterator[Tap]:
    tapped = Tap(redis)
    yield tapped
    await tapped.close()


async def server(kind: str, redis: Redis, prefix: str) -> Server:
    io = Server(adapter=adapter_factory(kind, redis, prefix, None))
    await io.listen(0, "127.0.0.1")  # returns once the adapter has subscribed
    return io


async def test_classic_broadcast_and_requests(redis: Redis, tap: Tap) -> None:
    prefix = f"t{secrets.token_hex(4)}"
    await tap.start(patterns=(f"{prefix}#/#*",), channels=(f"{prefix}-request#/#",))
    io = await server("redis", redis, prefix)
    uid = io.sockets.adapter.uid  # type: ignore[attr-defined]
    try:
        assert len(uid) == 6
        io.to("room1").volatile.compress(False).emit("ev", 1, b"\x01")
        channel, data = await tap.take(f"{prefix}#/#")
        assert channel == f"{prefix}#/#room1#"
        assert unpack(data) == [
            uid,
            {"type": 2, "data": ["ev", 1, b"\x01"], "nsp": "/"},
            {"rooms": ["room1"], "except": [], "flags": {"volatile": True, "compress": False}},
        ]
        io.to(["a", "b"]).except_("c").emit("two")
        channel, data = await tap.take(f"{prefix}#/#")
        assert channel == f"{prefix}#/#"
        assert unpack(data)[2] == {"rooms": ["a", "b"], "except": ["c"], "flags": {}}

        io.server_side_emit("hello", {"x": 1})
        channel, data = await tap.take(f"{prefix}-request#/#")
        assert orjson.loads(data) == {"uid": uid, "type": 6, "data": ["hello", {"x": 1}]}

        io.in_("r").sockets_join("s")
        channel, data = await tap.take(f"{prefix}-request#/#")
        assert orjson.loads(data) == {
            "uid": uid,
            "type": 2,
            "opts": {"rooms": ["r"], "except": []},
            "rooms": ["s"],
        }

        # the tap counts as a second server: fetch_sockets asks it, and takes a Node-style answer
        fetching = asyncio.ensure_future(io.in_("r").fetch_sockets())
        channel, data = await tap.take(f"{prefix}-request#/#")
        request = orjson.loads(data)
        assert request == {
            "uid": uid,
            "requestId": request["requestId"],
            "type": 5,
            "opts": {"rooms": ["r"], "except": []},
        }
        answer = {
            "requestId": request["requestId"],
            "sockets": [{"id": "remote1", "handshake": {"auth": {}}, "rooms": ["remote1", "r"],
                         "data": {"n": 1}}],
        }  # fmt: skip
        await redis.publish(f"{prefix}-response#/#", orjson.dumps(answer))
        (found,) = await fetching
        assert isinstance(found, RemoteSocket)
        assert (found.id, found.rooms, found.data) == ("remote1", {"remote1", "r"}, {"n": 1})
    finally:
        await io.close()


async def test_sharded_messages(redis: Redis, tap: Tap) -> None:
    prefix = f"t{secrets.token_hex(4)}"
    await tap.start(shards=(f"{prefix}#/#", f"{prefix}#/#room1#"))
    io = await server("sharded", redis, prefix)
    uid = io.sockets.adapter.uid  # type: ignore[attr-defined]
    try:
        assert len(uid) == 16
        io.emit("ev", [1, "two"])
        channel, data = await tap.take(f"{prefix}#/#")
        assert data.startswith(b"{")
        assert orjson.loads(data) == {
            "type": MessageType.BROADCAST,
            "data": {
                "packet": {"type": 2, "data": ["ev", [1, "two"]], "nsp": "/"},
                "opts": {"rooms": [], "except": [], "flags": {}},
            },
            "uid": uid,
            "nsp": "/",
        }
        io.to("room1").emit("bin", b"\x00")  # one public room: its own channel; binary: msgpack
        channel, data = await tap.take(f"{prefix}#/#room1#")
        assert channel == f"{prefix}#/#room1#"
        message = unpack(data)
        assert message["type"] == 3
        assert message["data"]["packet"]["data"] == ["bin", b"\x00"]
        io.disconnect_sockets(True)
        _, data = await tap.take(f"{prefix}#/#")
        assert orjson.loads(data)["data"] == {
            "opts": {"rooms": [], "except": [], "flags": {}},
            "close": True,
        }
    finally:
        await io.close()


async def test_stream_entries(redis: Redis, tap: Tap) -> None:
    prefix = f"t{secrets.token_hex(4)}"
    await tap.start(channels=(f"{prefix}#/#",))
    io = await server("streams", redis, prefix)
    uid = io.sockets.adapter.uid  # type: ignore[attr-defined]
    try:
        io.to("r").emit("ev", 1)
        io.emit("bin", b"\x01\x02")

        async def entries() -> list[Any]:
            return list(await redis.xrange(prefix, "-", "+") or [])

        found = await eventually(entries, lambda value: len(value) == 2)
        (_, first), (_, second) = found
        assert first == {
            b"uid": uid.encode(),
            b"nsp": b"/",
            b"type": b"3",
            b"data": b'{"packet":{"type":2,"data":["ev",1],"nsp":"/"},'
            b'"opts":{"rooms":["r"],"except":[],"flags":{}}}',
        }
        decoded = msgpack.unpackb(base64.b64decode(second[b"data"]), raw=False)
        assert decoded["packet"]["data"] == ["bin", b"\x01\x02"]
        # ephemeral messages go over pub/sub as msgpack
        io.server_side_emit("hello", 1)
        _, data = await tap.take(f"{prefix}#/#")
        assert unpack(data) == {
            "type": MessageType.SERVER_SIDE_EMIT,
            "data": {"packet": ["hello", 1]},
            "uid": uid,
            "nsp": "/",
        }
    finally:
        await io.close()
        await redis.delete(prefix)


async def test_emitter_bytes_match_the_official_emitter(redis: Redis, tap: Tap) -> None:
    prefix = f"t{secrets.token_hex(4)}"
    await tap.start(patterns=(f"{prefix}#*",))
    await emitter_module.Emitter(redis, key=prefix).emit("ev", 1)
    _, data = await tap.take(f"{prefix}#/#")
    # what @socket.io/redis-emitter 5.1 (notepack.io) publishes for emitter.emit("ev", 1)
    official = bytes.fromhex(
        "93a7656d697474657283a47479706502a46461746192a2657601a36e7370a12f"
        "83a5726f6f6d7390a5666c61677380a665786365707490"
    )
    assert data == official


def test_codec_vectors() -> None:
    assert flags_to_wire(BroadcastFlags(volatile=True, timeout=1.5, local=True)) == {
        "volatile": True,
        "timeout": 1500,
    }
    assert flags_from_wire({"timeout": 250, "compress": True}) == BroadcastFlags(
        timeout=0.25, compress=True
    )
    opts = opts_from_wire({"rooms": ["a", 1, None], "except": "x", "flags": None})
    assert (opts.rooms, opts.except_) == (frozenset({"a", "1"}), frozenset())
    assert unpack(pack({"b": b"\x00", "s": "é", "n": [1, 2.5, None, True]})) == {
        "b": b"\x00",
        "s": "é",
        "n": [1, 2.5, None, True],
    }
    # notepack.io's old encoding of `undefined` (fixext 0) decodes to None
    assert unpack(b"\x91\xd4\x00\x00") == [None]
    with pytest.raises(ValueError, match="malformed"):
        unpack(b"\xc1")
    # the reference's String.hashCode and JavaScript's remainder pick the stream of a namespace
    vectors = {"/": 47, "/admin": 1438238848, "/a-very-long-namespace-name": 969885554}
    assert {name: hash_code(name) for name in vectors} == vectors
    assert hash_code("/é😀") == 3396989
    assert _js_remainder(-7, 3) == -1
    assert _js_remainder(7, 3) == 1
