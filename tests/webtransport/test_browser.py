"""The official socket.io client in headless Chromium over WebTransport (HTTP/3, aioquic)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.webtransport.browser import Pages
from tests.webtransport.conftest import WebTransportApp

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
