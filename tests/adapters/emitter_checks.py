"""The steps every emitter test takes after its broadcasts, whatever the engine: room changes,
a server-side emit and a disconnect, checked on an aiosio server with clients ``a`` (in room "r1")
and ``b`` (in room "r2")."""

from __future__ import annotations

from typing import Any

import pytest

from aiosio.adapters.emitter import Emitter
from aiosio.adapters.postgres_emitter import PostgresEmitter
from aiosio.server import Server

from .cluster_support import Client, eventually
from .node_peers import NodeScript


async def check_python_emitter_operations(
    io: Server, emitter: Emitter | PostgresEmitter, a: Client, b: Client, *args: Any
) -> None:
    """aiosio's emitter: sockets join and leave, ``server_side_emit(args)`` reaches the server's
    handler, bad emits are refused, and the sockets of "r2" are disconnected."""
    await emitter.in_("r1").sockets_join("joined")
    await eventually(lambda: "joined" in (io.sockets.adapter.socket_rooms(a.sid) or ()))
    await emitter.in_("joined").sockets_leave("r1")
    await eventually(lambda: "r1" not in (io.sockets.adapter.socket_rooms(a.sid) or ()))

    seen: list[Any] = []
    io.on("from-emitter", lambda *got: seen.append(list(got)))
    await emitter.server_side_emit("from-emitter", *args)
    await eventually(lambda: seen == [list(args)])
    with pytest.raises(ValueError, match="acknowledgements"):
        await emitter.server_side_emit("x", lambda: None)
    with pytest.raises(ValueError, match="reserved"):
        await emitter.emit("connect")

    await emitter.to("r2").disconnect_sockets()
    await eventually(b.disconnected.is_set)
    assert not a.disconnected.is_set()


async def check_official_emitter_operations(
    io: Server, emitter: NodeScript, a: Client, b: Client
) -> None:
    """The official emitter (driven by tests/node/emitter_driver.js): sockets join and leave, a
    server-side emit reaches the server's handler, and the sockets of "r1" are disconnected."""
    await emitter.call("sockets_join", rooms=["r1"], room="joined")
    await eventually(lambda: "joined" in (io.sockets.adapter.socket_rooms(a.sid) or ()))
    await emitter.call("sockets_leave", room="joined")
    await eventually(lambda: "joined" not in (io.sockets.adapter.socket_rooms(a.sid) or ()))

    seen: list[Any] = []
    io.on("from-emitter", lambda *got: seen.append(list(got)))
    await emitter.call("server_side_emit", event="from-emitter", args=["hi", 2])
    await eventually(lambda: seen == [["hi", 2]])

    await emitter.call("disconnect_sockets", rooms=["r1"], close=True)
    await eventually(a.disconnected.is_set)
    assert not b.disconnected.is_set()
