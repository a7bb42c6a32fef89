"""Child namespaces of dynamic parents: removed when empty (by default) and bounded in number."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator

import pytest

import aiosio
from aiosio.client import connect
from aiosio.exceptions import ConnectRefusedError


@pytest.fixture
async def server() -> AsyncIterator[tuple[aiosio.Server, str]]:
    io = aiosio.Server(max_child_namespaces=2)
    port = await io.listen(0)
    yield io, f"http://127.0.0.1:{port}"
    await io.close()


async def wait_for(condition: object, limit: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():  # type: ignore[operator]
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_defaults() -> None:
    io = aiosio.Server()
    assert io.cleanup_empty_child_namespaces is True
    assert io.max_child_namespaces == 10_000
    with pytest.raises(ValueError, match="max_child_namespaces"):
        aiosio.Server(max_child_namespaces=-1)


async def test_child_namespace_goes_when_its_last_socket_leaves(
    server: tuple[aiosio.Server, str],
) -> None:
    io, url = server
    io.of(re.compile(r"^/room-\d+$"))
    a = await connect(f"{url}/room-1", force_new=True)
    b = await connect(f"{url}/room-1", force_new=True)
    assert "/room-1" in io.namespaces
    await a.disconnect()
    await asyncio.sleep(0.05)
    assert "/room-1" in io.namespaces  # b is still there
    await b.disconnect()
    await wait_for(lambda: "/room-1" not in io.namespaces)
    assert io.child_namespace_count == 0


async def test_refused_joins_leave_no_child_behind(server: tuple[aiosio.Server, str]) -> None:
    io, url = server
    parent = io.of(re.compile(r"^/room-\d+$"))

    @parent.use
    async def refuse(socket: aiosio.Socket) -> None:
        await asyncio.sleep(0)
        raise ConnectionRefusedError("no entry")

    for i in range(5):
        with pytest.raises(ConnectRefusedError):
            await connect(f"{url}/room-{i}", force_new=True)
    assert io.child_namespace_count == 0
    assert not [name for name in io.namespaces if name.startswith("/room-")]


async def test_number_of_children_is_bounded(
    server: tuple[aiosio.Server, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "aiosio")
    io, url = server

    async def any_team(name: str, auth: dict[str, object]) -> bool:
        await asyncio.sleep(0)
        return name.startswith("/team-")

    io.of(any_team)
    one = await connect(f"{url}/team-1", force_new=True)
    two = await connect(f"{url}/team-2", force_new=True)
    with pytest.raises(ConnectRefusedError, match="Invalid namespace"):
        await connect(f"{url}/team-3", force_new=True)
    assert any("max_child_namespaces" in r.getMessage() for r in caplog.records)
    # Existing children still take sockets; a freed slot can be used again.
    again = await connect(f"{url}/team-2", force_new=True)
    await one.disconnect()
    await wait_for(lambda: io.child_namespace_count == 1)
    three = await connect(f"{url}/team-3", force_new=True)
    assert set(io.namespaces) >= {"/team-2", "/team-3"}
    for sock in (two, again, three):
        await sock.disconnect()
