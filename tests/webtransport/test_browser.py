"""The official socket.io client in headless Chromium over WebTransport (HTTP/3, aioquic)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.webtransport.browser import Pages
from tests.webtransport.conftest import WebTransportApp, wait_until

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def pages(wt_app: WebTransportApp) -> AsyncIterator[Pages]:
    browser = await Pages.start(wt_app)
    try:
        yield browser
    finally:
        await browser.close()


async def test_connect_with_webtransport_only(wt_app: WebTransportApp, pages: Pages) -> None:
    await pages.open("a")
    connected = await pages.connect("a", ["webtransport"])
    assert connected["transport"] == "webtransport"
    socket = await wt_app.next_socket()
    assert socket.id == connected["id"]
    assert socket.conn.transport == "webtransport"


async def test_upgrade_from_polling(wt_app: WebTransportApp, pages: Pages) -> None:
    await pages.open("a")
    connected = await pages.connect("a", ["polling", "webtransport"])
    # The session opens on polling; the CONNECT answer may travel after the upgrade (the held GET is
    # released for the probe), so the client may already report WebTransport when "connect" fires.
    assert connected["transport"] in ("polling", "webtransport")
    assert await wt_app.next_event() == ("upgrade", "webtransport")
    socket = await wt_app.next_socket()
    assert socket.conn.transport == "webtransport"
    assert socket.conn.upgraded
    name = await pages.eval(
        "a",
        """
        for (let i = 0; i < 100 && socket.io.engine.transport.name !== "webtransport"; i++) {
            await new Promise((r) => setTimeout(r, 50));
        }
        return socket.io.engine.transport.name;
        """,
    )
    assert name == "webtransport"
    # and the session still carries events after the upgrade
    # (the server's echo acknowledges with one argument: the list of what it got)
    assert await pages.eval("a", 'return await socket.emitWithAck("echo", "after");') == ["after"]


async def test_events_acks_and_binary_both_ways(wt_app: WebTransportApp, pages: Pages) -> None:
    await pages.open("a")
    await pages.connect("a", ["webtransport"])
    socket = await wt_app.next_socket()

    # client -> server, with an ack carrying text, numbers, nested binary
    reply = await pages.eval(
        "a",
        """
        const [text, n, blob] = await socket.emitWithAck(
            "echo", "héllo ✓", 42, { data: new Uint8Array([0, 1, 254, 255]) });
        return [text, n, Array.from(new Uint8Array(blob.data))];
        """,
    )
    assert reply == ["héllo ✓", 42, [0, 1, 254, 255]]
    assert await wt_app.next_event() == ("echo", ["héllo ✓", 42, {"data": b"\x00\x01\xfe\xff"}])

    # a large message: the 64-bit length header both ways
    size = await pages.eval(
        "a",
        """
        const big = "x".repeat(70000);
        const [back] = await socket.emitWithAck("echo", big);
        return back.length;
        """,
    )
    assert size == 70000
    assert (await wt_app.next_event())[0] == "echo"

    # server -> client: an event with binary, and an ack the client answers
    socket.emit("news", "plain", b"\x10\x20\x30")
    seen = await pages.eval(
        "a",
        """
        for (let i = 0; i < 100 && !window.seen.some((e) => e[0] === "event"); i++) {
            await new Promise((r) => setTimeout(r, 50));
        }
        return window.seen.filter((e) => e[0] === "event");
        """,
    )
    assert seen == [["event", ["news", "plain", {"bytes": [16, 32, 48]}]]]
    await pages.eval(
        "a", 'socket.on("question", (q, cb) => cb(q + "!", new Uint8Array([7, 8]))); return 1;'
    )
    answer = await socket.timeout(10).emit_with_ack("question", "why")
    assert list(answer) == ["why!", b"\x07\x08"]


async def test_server_side_disconnect(wt_app: WebTransportApp, pages: Pages) -> None:
    await pages.open("a")
    await pages.connect("a", ["webtransport"])
    socket = await wt_app.next_socket()
    socket.disconnect()
    assert await wt_app.next_event() == ("disconnect", "server namespace disconnect")
    reason = await pages.eval(
        "a",
        """
        for (let i = 0; i < 100 && !window.seen.some((e) => e[0] === "disconnect"); i++) {
            await new Promise((r) => setTimeout(r, 50));
        }
        return window.seen.find((e) => e[0] === "disconnect");
        """,
    )
    assert reason == ["disconnect", "io server disconnect"]


async def test_server_closes_the_session(wt_app: WebTransportApp, pages: Pages) -> None:
    await pages.open("a")
    await pages.connect("a", ["webtransport"], reconnection=False)
    socket = await wt_app.next_socket()
    socket.conn.close()
    assert await wt_app.next_event() == ("disconnect", "forced close")
    reason = await pages.eval(
        "a",
        """
        for (let i = 0; i < 100 && !window.seen.some((e) => e[0] === "disconnect"); i++) {
            await new Promise((r) => setTimeout(r, 50));
        }
        return window.seen.find((e) => e[0] === "disconnect");
        """,
    )
    assert reason == ["disconnect", "transport close"]


async def test_client_disconnect_and_page_close(wt_app: WebTransportApp, pages: Pages) -> None:
    await pages.open("a")
    await pages.connect("a", ["webtransport"])
    await wt_app.next_socket()
    assert await pages.eval("a", "socket.disconnect(); return window.seen;") == [
        ["disconnect", "io client disconnect"]
    ]
    assert await wt_app.next_event() == ("disconnect", "client namespace disconnect")
    # the client closes its WebTransport session too, and the engine session ends with it
    await wait_until(lambda: wt_app.io.engine.clients_count == 0)


@pytest.mark.server_options(ping_interval=1.0, ping_timeout=1.0)
async def test_page_closed(wt_app: WebTransportApp, pages: Pages) -> None:
    await pages.open("b")
    await pages.connect("b", ["webtransport"])
    await wt_app.next_socket()
    await pages.close_page("b")
    # Chromium mostly ends the session as the page goes ("transport close"), but at times sends
    # nothing at all: the heartbeat ends it then.
    name, reason = await wt_app.next_event(timeout=10)
    assert name == "disconnect"
    assert reason in ("transport close", "ping timeout")
    await wait_until(lambda: wt_app.io.engine.clients_count == 0)


async def test_all_three_transports(wt_app: WebTransportApp, pages: Pages) -> None:
    """Polling first; the client probes WebTransport at once and WebSocket 200 ms later (it favours
    WebTransport): the session ends up on WebTransport and the WebSocket probe is dropped."""
    await pages.open("a")
    connected = await pages.connect("a", ["polling", "websocket", "webtransport"])
    assert connected["transport"] in ("polling", "webtransport")  # as in test_upgrade_from_polling
    assert await wt_app.next_event() == ("upgrade", "webtransport")
    socket = await wt_app.next_socket()
    assert socket.conn.transport == "webtransport"
    assert socket.conn.upgraded  # it began on polling
    assert await pages.eval("a", 'return await socket.emitWithAck("echo", 1);') == [1]
    assert await pages.eval("a", "return socket.io.engine.transport.name;") == "webtransport"
