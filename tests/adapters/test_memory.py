"""The in-memory adapters on their own: rooms, matching, broadcasts, sessions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pytest

from aiosio.adapters import (
    BroadcastFlags,
    BroadcastOptions,
    InMemoryAdapter,
    RecoveryOptions,
    SessionAwareAdapter,
    SessionToPersist,
)
from aiosio.protocol.socketio import DEFAULT_PARSER, EncoderLike, Packet, PacketType


class Sock:
    """A local socket as the adapter sees it, recording what it is sent."""

    def __init__(self, sid: str, adapter: InMemoryAdapter) -> None:
        self.id = sid
        self.handshake: dict[str, Any] = {}
        self.data: dict[str, Any] = {}
        self.adapter = adapter
        self.frames: list[str | bytes] = []
        self.volatile: list[bool] = []
        self.acks: dict[int, Callable[..., None]] = {}
        self.disconnected: list[bool] = []

    @property
    def rooms(self) -> set[str]:
        return set(self.adapter.socket_rooms(self.id) or ())

    def join(self, rooms: str | Iterable[str]) -> None:
        self.adapter.add_all(self.id, [rooms] if isinstance(rooms, str) else rooms)

    def leave(self, room: str) -> None:
        self.adapter.del_(self.id, room)

    def disconnect(self, close: bool = False) -> None:
        self.disconnected.append(close)

    def deliver(
        self,
        packet: Packet,
        encoded: Sequence[str | bytes],
        volatile: bool,
        compress: bool | None,
    ) -> None:
        self.frames.extend(encoded)
        self.volatile.append(volatile)

    def add_ack(self, ack_id: int, callback: Callable[..., None]) -> None:
        self.acks[ack_id] = callback

    def remove_ack(self, ack_id: int) -> None:
        self.acks.pop(ack_id, None)


class Nsp:
    def __init__(self, recovery: RecoveryOptions | None = None) -> None:
        self.name = "/chat"
        self.sockets: dict[str, Sock] = {}
        self.encoder: EncoderLike = DEFAULT_PARSER.encoder()
        self.recovery = recovery
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ids = 0

    def next_ack_id(self) -> int:
        self.ids += 1
        return self.ids

    def handle_server_side_emit(
        self, event: str, args: list[Any], ack: Callable[..., None] | None
    ) -> None:
        raise AssertionError("no server-side events on a single server")


def setup(adapter_cls: type[InMemoryAdapter] = InMemoryAdapter, **kw: Any) -> tuple[Nsp, Any]:
    nsp = Nsp(**kw)
    adapter = adapter_cls(nsp)
    for sid in ("a", "b", "c", "d"):
        nsp.sockets[sid] = Sock(sid, adapter)
        adapter.add_all(sid, [sid])
    return nsp, adapter


def event(*data: Any) -> Packet:
    return Packet(PacketType.EVENT, "/", list(data))


def opts(rooms: Iterable[str] = (), except_: Iterable[str] = (), **flags: Any) -> BroadcastOptions:
    return BroadcastOptions(frozenset(rooms), frozenset(except_), BroadcastFlags(**flags))


def test_rooms_and_room_events() -> None:
    _, adapter = setup()
    log: list[tuple[Any, ...]] = []
    for name in ("create-room", "delete-room", "join-room", "leave-room"):
        adapter.on(name, lambda *args, name=name: log.append((name, *args)))
    adapter.add_all("a", ["r1", "r2"])
    adapter.add_all("b", ["r1"])
    adapter.add_all("b", ["r1"])  # already in: nothing happens
    assert adapter.rooms["r1"] == {"a", "b"}
    assert adapter.socket_rooms("a") == {"a", "r1", "r2"}
    adapter.del_("a", "r2")
    adapter.del_all("b")
    assert adapter.socket_rooms("b") is None
    assert "r2" not in adapter.rooms
    assert log[:7] == [
        ("create-room", "r1"),
        ("join-room", "r1", "a"),
        ("create-room", "r2"),
        ("join-room", "r2", "a"),
        ("join-room", "r1", "b"),
        ("leave-room", "r2", "a"),
        ("delete-room", "r2"),
    ]
    # del_all: the order of the rooms is not specified
    assert sorted(log[7:]) == [
        ("delete-room", "b"),
        ("leave-room", "b", "b"),
        ("leave-room", "r1", "b"),
    ]


@pytest.mark.parametrize(
    ("rooms", "except_", "expected"),
    [
        ((), (), {"a", "b", "c", "d"}),
        (("red",), (), {"a", "b"}),
        (("red", "blue"), (), {"a", "b", "c"}),
        (("red", "blue"), ("blue",), {"a"}),
        ((), ("red",), {"c", "d"}),
        ((), ("a", "blue"), {"d"}),
        (("nobody",), (), set()),
        (("red",), ("nobody",), {"a", "b"}),
    ],
)
async def test_broadcast_targets(
    rooms: tuple[str, ...], except_: tuple[str, ...], expected: set[str]
) -> None:
    nsp, adapter = setup()
    adapter.add_all("a", ["red"])
    adapter.add_all("b", ["red", "blue"])
    adapter.add_all("c", ["blue"])
    adapter.broadcast(event("hi", 1), opts(rooms, except_))
    got = {sid for sid, s in nsp.sockets.items() if s.frames}
    assert got == expected
    for sid in got:
        assert nsp.sockets[sid].frames == ['2/chat,["hi",1]']
    if not except_:
        assert await adapter.sockets(rooms) == expected
    found = await adapter.fetch_sockets(opts(rooms, except_))
    assert {s.id for s in found} == expected


async def test_broadcast_encodes_once_and_shares_frames() -> None:
    nsp, adapter = setup()
    adapter.broadcast(event("blob", b"\x00\x01"), opts(volatile=True))
    frames = [s.frames for s in nsp.sockets.values()]
    assert frames[0] == ['51-/chat,["blob",{"_placeholder":true,"num":0}]', b"\x00\x01"]
    # the very same objects went to every socket
    assert all(f[0] is frames[0][0] and f[1] is frames[0][1] for f in frames)
    assert all(s.volatile == [True] for s in nsp.sockets.values())


async def test_broadcast_with_ack_counts_and_collects() -> None:
    nsp, adapter = setup()
    counts: list[int] = []
    answers: list[Any] = []
    adapter.add_all("a", ["r"])
    adapter.add_all("b", ["r"])
    adapter.broadcast_with_ack(event("q"), opts(["r"]), counts.append, answers.append)
    assert counts == [2]
    assert nsp.sockets["a"].frames == ['2/chat,1["q"]']
    nsp.sockets["a"].acks[1]("yes")
    assert answers == ["yes"]
    adapter.remove_acks(1, opts(["r"]))
    assert nsp.sockets["b"].acks == {}


async def test_operations_on_matching_sockets() -> None:
    nsp, adapter = setup()
    adapter.add_sockets(opts(except_=["d"]), ["x", "y"])
    assert await adapter.sockets(["x"]) == {"a", "b", "c"}
    adapter.del_sockets(opts(["x"], ["a"]), ["y"])
    assert await adapter.sockets(["y"]) == {"a"}
    adapter.disconnect_sockets(opts(["y"]), True)
    assert nsp.sockets["a"].disconnected == [True]
    assert nsp.sockets["b"].disconnected == []
    assert await adapter.server_count() == 1
    assert await adapter.server_side_emit_with_ack("x", []) == []


async def test_session_aware_adapter_offsets_and_restore() -> None:
    nsp, adapter = setup(SessionAwareAdapter, recovery=RecoveryOptions(10.0))
    adapter.add_all("a", ["news"])
    first = event("n", 1)
    adapter.broadcast(first, opts(["news"]))
    offset = first.data[-1]
    assert isinstance(offset, str)
    assert nsp.sockets["a"].frames == [f'2/chat,["n",1,"{offset}"]']
    adapter.persist_session(SessionToPersist("a", "pid-a", ["a", "news"], {"k": 1}))
    adapter.broadcast(event("n", 2), opts(["news"]))
    adapter.broadcast(event("n", 3), opts(["news"], ["a"]))  # excluded
    adapter.broadcast(event("v", 4), opts(volatile=True))  # volatile: not kept
    with_ack = event("q")
    with_ack.id = 9
    adapter.broadcast(with_ack, opts())  # with an ack id: not kept
    adapter.broadcast(event("all", 5), opts())
    session = await adapter.restore_session("pid-a", offset)
    assert session is not None
    assert (session.sid, session.rooms, session.data) == ("a", ["a", "news"], {"k": 1})
    assert [p[:-1] for p in session.missed_packets] == [["n", 2], ["all", 5]]
    # restored once
    assert await adapter.restore_session("pid-a", offset) is None
    assert await adapter.restore_session("unknown", offset) is None


async def test_session_aware_adapter_expiry_and_purge() -> None:
    _, adapter = setup(SessionAwareAdapter, recovery=RecoveryOptions(30.0))
    packet = event("n")
    adapter.broadcast(packet, opts())
    adapter.persist_session(SessionToPersist("a", "p", ["a"], {}))
    assert adapter._purge_handle is not None  # the purge timer runs while there is state
    adapter.purge(time.monotonic() + 31)  # what the timer does, 31 seconds later
    assert adapter._sessions == {}
    assert adapter._packets == []
    assert await adapter.restore_session("p", packet.data[-1]) is None
    # offsets keep working after a purge
    later = event("m")
    adapter.broadcast(later, opts())
    adapter.broadcast(event("m2"), opts())
    adapter.persist_session(SessionToPersist("b", "pb", ["b"], {}))
    session = await adapter.restore_session("pb", later.data[-1])
    assert session is not None
    assert [p[0] for p in session.missed_packets] == ["m2"]
    adapter.close()
    assert adapter._purge_handle is None
