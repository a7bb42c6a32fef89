"""The admin namespace as the official socket.io-client sees it.

Every expectation holds for the reference server with ``@socket.io/admin-ui`` too (run with
``AIOSIO_REFERENCE=1``): the UI only knows the reference's events, so they are the contract.
"""

from __future__ import annotations

import re
from typing import Any

import bcrypt
import pytest

from tests.server.node import NodeClients

from .conftest import StartAdmin

pytestmark = pytest.mark.timeout(30)

PASSWORD = "s3cret"
HASHED = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
AUTH = {"username": "admin", "password": HASHED}
ALL_FEATURES = ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT"]


def event(name: str, cid: str = "admin") -> Any:
    return lambda e: e["ev"] == "event" and e["id"] == cid and e["name"] == name


def about(name: str, nsp: str = "/") -> Any:
    """A live event of the admin client about namespace ``nsp`` (the admin's own are reported too)."""

    def match(e: dict[str, Any]) -> bool:
        if not event(name)(e):
            return False
        first = e["args"][0]
        found: Any = first["nsp"] if isinstance(first, dict) else first
        return bool(found == nsp)

    return match


async def connect(
    node: NodeClients, cid: str, url: str, nsp: str = "/", **opts: Any
) -> dict[str, Any]:
    """A socket on a connection of its own (the client would share one per server otherwise)."""
    return await node.connect(cid, url, nsp, forceNew=True, **opts)


async def connect_admin(node: NodeClients, url: str, **auth: Any) -> dict[str, Any]:
    return await connect(node, "admin", url, "/admin", auth=auth, transports=["websocket"])


async def test_wrong_password_is_refused(admin_server: StartAdmin, node: NodeClients) -> None:
    url = await admin_server(auth=AUTH)
    answer = await connect_admin(node, url, username="admin", password="wrong")
    assert answer["ev"] == "connect_error"
    assert answer["message"] == "invalid credentials"
    answer = await connect(node, "other", url, "/admin", auth={"username": "x"})
    assert answer["ev"] == "connect_error"


async def test_login_gives_a_session_that_logs_in_again(
    admin_server: StartAdmin, node: NodeClients
) -> None:
    url = await admin_server(auth=AUTH)
    answer = await connect_admin(node, url, username="admin", password=PASSWORD)
    assert answer["ev"] == "connect"
    session = await node.expect(event("session"))
    (session_id,) = session["args"]
    assert re.fullmatch(r"[0-9a-f]{16}", session_id)
    config = await node.expect(event("config"))
    assert config["args"] == [
        {"supportedFeatures": [*ALL_FEATURES, "AGGREGATED_EVENTS", "ALL_EVENTS"]}
    ]
    again = await connect(node, "again", url, "/admin", auth={"sessionId": session_id})
    assert again["ev"] == "connect"


async def test_plain_password_and_no_auth(admin_server: StartAdmin, node: NodeClients) -> None:
    url = await admin_server(auth=False)
    answer = await connect(node, "admin", url, "/admin")
    assert answer["ev"] == "connect"
    await node.expect(event("config"))


async def test_stats_and_sockets(admin_server: StartAdmin, node: NodeClients) -> None:
    url = await admin_server(auth=False, server_id="node-a")
    await connect(node, "c1", url, "/", transports=["websocket"])
    await connect(node, "c2", url, "/chat", transports=["polling"], query={"room": "x"})
    await connect(node, "admin", url, "/admin", transports=["websocket"])
    sockets = (await node.expect(event("all_sockets")))["args"][0]
    by_nsp = {s["nsp"]: s for s in sockets}
    assert set(by_nsp) == {"/", "/chat", "/admin"}
    polled = by_nsp["/chat"]
    assert polled["transport"] == "polling"
    assert polled["rooms"] == [polled["id"]]
    assert polled["data"] == {}
    assert re.fullmatch(r"[\w-]{12}", polled["clientId"])
    assert polled["handshake"]["query"]["room"] == "x"
    assert polled["handshake"]["address"] in ("127.0.0.1", "::ffff:127.0.0.1")
    assert by_nsp["/"]["transport"] == "websocket"
    for _ in range(3):  # the first stats may predate a connection
        stats = (await node.expect(event("server_stats")))["args"][0]
        if stats["clientsCount"] == 3:
            break
    assert stats["serverId"] == "node-a"
    assert stats["clientsCount"] == 3
    assert stats["pollingClientsCount"] == 1
    assert isinstance(stats["pid"], int)
    assert isinstance(stats["hostname"], str)
    assert stats["uptime"] > 0
    counts = {n["name"]: n["socketsCount"] for n in stats["namespaces"]}
    assert counts == {"/": 1, "/chat": 1, "/admin": 1}
    kinds = {e["type"] for e in stats["aggregatedEvents"]}
    assert {"rawConnection", "packetsIn", "packetsOut", "bytesIn", "bytesOut"} <= kinds


async def test_live_events_in_development_mode(admin_server: StartAdmin, node: NodeClients) -> None:
    url = await admin_server(auth=False)
    await connect(node, "admin", url, "/admin", transports=["websocket"])
    await node.expect(event("all_sockets"))
    await connect(node, "c1", url, "/", transports=["polling", "websocket"])
    connected = (await node.expect(about("socket_connected")))["args"]
    sid = connected[0]["id"]
    assert connected[0]["nsp"] == "/"
    assert connected[0]["transport"] == "polling"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", connected[1])
    updated = (await node.expect(about("socket_updated")))["args"][0]
    assert updated == {"id": sid, "nsp": "/", "transport": "websocket"}
    node.send(cmd="emit", id="c1", event="hello", args=["world", 1])
    received = (await node.expect(about("event_received")))["args"]
    assert received[:3] == ["/", sid, ["hello", "world", 1]]
    sent = (await node.expect(about("event_sent")))["args"]
    assert sent[:3] == ["/", sid, ["hello", "world", 1]]
    node.send(cmd="disconnect", id="c1")
    gone = (await node.expect(about("socket_disconnected")))["args"]
    assert gone[:3] == ["/", sid, "client namespace disconnect"]
    left = (await node.expect(about("room_left")))["args"]
    assert left[:3] == ["/", sid, sid]


async def test_actions_emit_join_leave_disconnect(
    admin_server: StartAdmin, node: NodeClients
) -> None:
    url = await admin_server(auth=AUTH)
    c1 = await connect(node, "c1", url, "/", transports=["websocket"])
    c2 = await connect(node, "c2", url, "/", transports=["websocket"])
    await connect_admin(node, url, username="admin", password=PASSWORD)
    await node.expect(event("all_sockets"))
    # emit to one socket (its own room), then to every socket of the namespace
    node.send(cmd="emit", id="admin", event="emit", args=["/", c1["sid"], "note", {"n": 1}])
    assert (await node.next("c1", "event", name="note"))["args"] == [{"n": 1}]
    node.send(cmd="emit", id="admin", event="emit", args=["/", None, "all", 2])
    await node.next("c1", "event", name="all")
    await node.next("c2", "event", name="all")
    # join: one socket, then all of them (MJOIN)
    node.send(cmd="emit", id="admin", event="join", args=["/", "blue", c2["sid"]])
    joined = (await node.expect(about("room_joined")))["args"]
    assert joined[:3] == ["/", "blue", c2["sid"]]
    node.send(cmd="emit", id="admin", event="join", args=["/", "green"])
    joined_all = [(await node.expect(about("room_joined")))["args"][:3] for _ in range(2)]
    assert sorted(joined_all) == sorted([["/", "green", c1["sid"]], ["/", "green", c2["sid"]]])
    node.send(cmd="emit", id="admin", event="emit", args=["/", "blue", "blue_only"])
    await node.next("c2", "event", name="blue_only")
    # leave (MLEAVE on a room)
    node.send(cmd="emit", id="admin", event="leave", args=["/", "green", "blue"])
    left = (await node.expect(about("room_left")))["args"]
    assert left[:3] == ["/", "green", c2["sid"]]
    # disconnect one socket, then the rest (MDISCONNECT)
    node.send(cmd="emit", id="admin", event="_disconnect", args=["/", False, c1["sid"]])
    assert (await node.next("c1", "disconnect"))["reason"] == "io server disconnect"
    node.send(cmd="emit", id="admin", event="_disconnect", args=["/", True])
    assert (await node.next("c2", "disconnect"))["reason"] == "io server disconnect"
    assert not [e for e in node.events if e["ev"] == "event" and e["name"] == "blue_only"]


async def test_read_only_ignores_actions(admin_server: StartAdmin, node: NodeClients) -> None:
    url = await admin_server(auth=False, read_only=True)
    c1 = await connect(node, "c1", url, "/", transports=["websocket"])
    await connect(node, "admin", url, "/admin", transports=["websocket"])
    config = await node.expect(event("config"))
    assert config["args"] == [{"supportedFeatures": ["AGGREGATED_EVENTS", "ALL_EVENTS"]}]
    node.send(cmd="emit", id="admin", event="emit", args=["/", None, "nope"])
    node.send(cmd="emit", id="admin", event="_disconnect", args=["/", True, c1["sid"]])
    node.send(cmd="emit", id="c1", event="hello", args=["still here"])
    assert (await node.next("c1", "event", name="hello"))["args"] == ["still here"]
    assert not [e for e in node.events if e.get("name") == "nope" or e["ev"] == "disconnect"]


async def test_production_mode_sends_stats_only(
    admin_server: StartAdmin, node: NodeClients
) -> None:
    url = await admin_server(auth=False, mode="production")
    await connect(node, "admin", url, "/admin", transports=["websocket"])
    config = await node.expect(event("config"))
    assert config["args"] == [{"supportedFeatures": [*ALL_FEATURES, "AGGREGATED_EVENTS"]}]
    await connect(node, "c1", url, "/", transports=["websocket"])
    node.send(cmd="emit", id="c1", event="hello", args=["x"])
    await node.next("c1", "event", name="hello")
    for _ in range(3):
        stats = (await node.expect(event("server_stats")))["args"][0]
        if stats["clientsCount"] == 2:
            break
    assert stats["clientsCount"] == 2
    names = {e["name"] for e in node.events if e["ev"] == "event" and e["id"] == "admin"}
    assert names <= {"server_stats"}, names
