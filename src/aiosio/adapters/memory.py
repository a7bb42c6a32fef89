"""The in-memory adapter (one process) and its session-aware variant for connection state recovery."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from aiosio.adapters.base import (
    Adapter,
    AdapterNamespace,
    AdapterSocket,
    BroadcastOptions,
    RecoveryOptions,
    Session,
    SessionToPersist,
    SocketDetails,
)

if TYPE_CHECKING:
    from aiosio.protocol.socketio import Packet

__all__ = ["InMemoryAdapter", "SessionAwareAdapter"]

_EVENT = 2  # PacketType.EVENT


class InMemoryAdapter(Adapter):
    """Rooms as two maps (room -> socket ids, socket id -> rooms); broadcasts resolved with set operations.

    A broadcast packet is encoded once and the same encoded parts are written to every recipient.
    """

    __slots__ = ("rooms", "sids")

    def __init__(self, nsp: AdapterNamespace) -> None:
        super().__init__(nsp)
        #: room -> ids of the local sockets in it
        self.rooms: dict[str, set[str]] = {}
        #: socket id -> rooms it is in
        self.sids: dict[str, set[str]] = {}

    # -- rooms ------------------------------------------------------------------------------------

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        own = self.sids.get(sid)
        if own is None:
            own = self.sids[sid] = set()
        notify = bool(self._handlers)
        for room in rooms:
            own.add(room)
            members = self.rooms.get(room)
            if members is None:
                members = self.rooms[room] = set()
                if notify:
                    self.emit("create-room", room)
            if sid not in members:
                members.add(sid)
                if notify:
                    self.emit("join-room", room, sid)

    def del_(self, sid: str, room: str) -> None:
        own = self.sids.get(sid)
        if own is not None:
            own.discard(room)
        self._del(room, sid)

    def _del(self, room: str, sid: str) -> None:
        members = self.rooms.get(room)
        if members is None:
            return
        if sid in members:
            members.discard(sid)
            if self._handlers:
                self.emit("leave-room", room, sid)
        if not members:
            del self.rooms[room]
            if self._handlers:
                self.emit("delete-room", room)

    def del_all(self, sid: str) -> None:
        own = self.sids.pop(sid, None)
        if own is None:
            return
        for room in own:
            self._del(room, sid)

    def socket_rooms(self, sid: str) -> set[str] | None:
        return self.sids.get(sid)

    async def sockets(self, rooms: Iterable[str]) -> set[str]:
        opts = BroadcastOptions(rooms=frozenset(rooms))
        return {socket.id for socket in self._matching(opts)}

    # -- matching ---------------------------------------------------------------------------------

    def _matching_ids(self, opts: BroadcastOptions) -> Iterable[str]:
        rooms = self.rooms
        excluded: set[str] | None = None
        if opts.except_:
            excluded = set()
            for room in opts.except_:
                members = rooms.get(room)
                if members:
                    excluded |= members
        if opts.rooms:
            if len(opts.rooms) == 1:
                (room,) = opts.rooms
                members = rooms.get(room)
                if not members:
                    return ()
                ids: Iterable[str] = members - excluded if excluded else list(members)
                return ids
            union: set[str] = set()
            for room in opts.rooms:
                members = rooms.get(room)
                if members:
                    union |= members
            if excluded:
                union -= excluded
            return union
        if excluded:
            return [sid for sid in self.sids if sid not in excluded]
        return list(self.sids)

    def _matching(self, opts: BroadcastOptions) -> Iterator[AdapterSocket]:
        sockets = self.nsp.sockets
        for sid in self._matching_ids(opts):
            socket = sockets.get(sid)
            if socket is not None:
                yield socket

    # -- broadcasting -----------------------------------------------------------------------------

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        packet.nsp = self.nsp.name
        encoded = self.nsp.encoder.encode(packet)
        flags = opts.flags
        volatile = flags.volatile
        compress = flags.compress
        sockets = self.nsp.sockets
        for sid in self._matching_ids(opts):  # _matching() inlined: this loop is the hot one
            socket = sockets.get(sid)
            if socket is not None:
                socket.deliver(packet, encoded, volatile, compress)

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count_callback: Callable[[int], None],
        ack: Callable[..., None],
    ) -> None:
        packet.nsp = self.nsp.name
        # one id for every recipient: the namespace counter never hands it out twice
        packet.id = ack_id = self.nsp.next_ack_id()
        encoded = self.nsp.encoder.encode(packet)
        flags = opts.flags
        count = 0
        for socket in self._matching(opts):
            count += 1
            socket.add_ack(ack_id, ack)
            socket.deliver(packet, encoded, flags.volatile, flags.compress)
        client_count_callback(count)

    def remove_acks(self, ack_id: int, opts: BroadcastOptions) -> None:
        for socket in self._matching(opts):
            socket.remove_ack(ack_id)

    # -- operations on matching sockets -----------------------------------------------------------

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[AdapterSocket | SocketDetails]:
        return list(self._matching(opts))

    def add_sockets(self, opts: BroadcastOptions, rooms: Sequence[str]) -> None:
        for socket in list(self._matching(opts)):
            socket.join(rooms)

    def del_sockets(self, opts: BroadcastOptions, rooms: Sequence[str]) -> None:
        for socket in list(self._matching(opts)):
            for room in rooms:
                socket.leave(room)

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        for socket in list(self._matching(opts)):
            socket.disconnect(close)


class _StoredPacket:
    __slots__ = ("data", "emitted_at", "opts")

    def __init__(self, data: list[Any], opts: BroadcastOptions, emitted_at: float) -> None:
        self.data = data
        self.opts = opts
        self.emitted_at = emitted_at


class SessionAwareAdapter(InMemoryAdapter):
    """An in-memory adapter that keeps what connection state recovery needs.

    Every broadcast EVENT without acknowledgement and not volatile gets an offset appended as its last
    argument and is kept for ``max_disconnection_duration``. Sockets that disconnect for a recoverable
    reason are persisted; :meth:`restore_session` returns their state and the packets they missed.
    Expired sessions and packets are purged by a periodic timer.
    """

    __slots__ = ("_first_seq", "_packets", "_prefix", "_purge_handle", "_seq", "_sessions", "ttl")

    #: Seconds between two purges of expired sessions and packets (at most the session lifetime).
    PURGE_INTERVAL = 60.0

    def __init__(self, nsp: AdapterNamespace) -> None:
        super().__init__(nsp)
        recovery = nsp.recovery or RecoveryOptions()
        self.ttl = recovery.max_disconnection_duration
        self._sessions: dict[str, tuple[SessionToPersist, float]] = {}
        self._packets: list[_StoredPacket] = []
        # offsets are "<prefix>-<sequence>": the prefix tells this adapter's offsets from any other's,
        # the sequence locates the packet without a search
        self._prefix = secrets.token_hex(4)
        self._seq = itertools.count()
        self._first_seq = 0
        self._purge_handle: asyncio.TimerHandle | None = None

    def _start_purge_timer(self) -> None:
        if self._purge_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        interval = min(self.PURGE_INTERVAL, max(self.ttl, 0.05))
        self._purge_handle = loop.call_later(interval, self._purge_tick, interval)

    def _purge_tick(self, interval: float) -> None:
        self._purge_handle = None
        self.purge()
        if self._sessions or self._packets:
            loop = asyncio.get_running_loop()
            self._purge_handle = loop.call_later(interval, self._purge_tick, interval)

    def purge(self, now: float | None = None) -> None:
        """Forget the sessions and packets older than ``max_disconnection_duration``."""
        threshold = (time.monotonic() if now is None else now) - self.ttl
        expired = [pid for pid, (_, at) in self._sessions.items() if at < threshold]
        for pid in expired:
            del self._sessions[pid]
        packets = self._packets
        drop = 0
        for stored in packets:
            if stored.emitted_at >= threshold:
                break
            drop += 1
        if drop:
            del packets[:drop]
            self._first_seq += drop

    def close(self) -> None:
        if self._purge_handle is not None:
            self._purge_handle.cancel()
            self._purge_handle = None
        self._sessions.clear()
        self._packets.clear()

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        if packet.type == _EVENT and packet.id is None and not opts.flags.volatile:
            seq = next(self._seq)
            data = packet.data
            data.append(f"{self._prefix}-{seq}")
            self._packets.append(_StoredPacket(data, opts, time.monotonic()))
            self._start_purge_timer()
        super().broadcast(packet, opts)

    def persist_session(self, session: SessionToPersist) -> None:
        self._sessions[session.pid] = (session, time.monotonic())
        self._start_purge_timer()

    async def restore_session(self, pid: str, offset: str) -> Session | None:
        entry = self._sessions.get(pid)
        if entry is None:
            return None
        persisted, disconnected_at = entry
        if disconnected_at + self.ttl < time.monotonic():
            del self._sessions[pid]
            return None
        prefix, _, seq_text = offset.partition("-")
        if prefix != self._prefix or not seq_text.isdigit():
            return None
        index = int(seq_text) - self._first_seq
        if index < 0 or index >= len(self._packets):
            return None
        del self._sessions[pid]
        rooms = persisted.rooms
        missed = [
            stored.data
            for stored in self._packets[index + 1 :]
            if _should_include(rooms, stored.opts)
        ]
        return Session(
            sid=persisted.sid,
            pid=persisted.pid,
            rooms=list(rooms),
            data=persisted.data,
            missed_packets=missed,
        )


def _should_include(rooms: list[str], opts: BroadcastOptions) -> bool:
    included = not opts.rooms or any(room in opts.rooms for room in rooms)
    return included and not any(room in opts.except_ for room in rooms)
