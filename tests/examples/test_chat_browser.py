"""The demo page in headless Chromium: two people chat, share a file, and see the chart move.

Screenshots go to a temporary directory; ``AIOSIO_SCREENSHOTS=docs/img`` refreshes the documentation's.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from examples.chat import make_server, page

from tests.support.browser import BrowserScript, require_browser

pytestmark = pytest.mark.timeout(90)


async def test_two_browsers_chat_share_a_file_and_see_the_rate(tmp_path: Path) -> None:
    require_browser()
    io = make_server(admin_password="pw")
    port = await io.listen(0, fallback=page)
    browser = await BrowserScript.start(
        "chat", url=f"http://127.0.0.1:{port}", screenshots=str(tmp_path)
    )
    try:
        upgraded = await browser.step()
        assert upgraded["transports"] == ["polling", "websocket"]
        presence = await browser.step()
        assert sorted(presence["alice"]) == ["alice", "bob"]
        assert sorted(presence["bob"]) == ["alice", "bob"]
        chat = await browser.step()
        assert chat["bob"] == [
            ["alice", "hi bob"],
            ["alice", "how are you?"],
            ["alice", "files next"],
        ]
        shared = (await browser.step())["file"]
        assert shared["from"] == "alice"
        assert shared["name"] == "bytes.bin"
        assert shared["size"] == 300
        assert shared["binary"] is True  # an ArrayBuffer: it travelled as a binary attachment
        assert shared["bytes"] == list(range(64))
        chart = await browser.step()
        assert any(rate > 0 for rate in chart["rates"])
        assert chart["changed"] is True
        shot = tmp_path / "demo-chat.png"
        assert shot.stat().st_size > 10_000
        target = os.environ.get("AIOSIO_SCREENSHOTS")
        if target:
            shutil.copy(shot, Path(target) / shot.name)
    finally:
        await browser.close()
        await io.close()
