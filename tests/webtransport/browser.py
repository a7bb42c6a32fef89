"""Pages of headless Chromium running the official socket.io client (tests/browser/webtransport.js)."""

from __future__ import annotations

import json
from typing import Any

from tests.support.browser import ROOT, BrowserScript, require_browser
from tests.webtransport.conftest import WebTransportApp

BUNDLE = ROOT / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"


class Pages:
    """One Chromium; pages by name; ``eval`` runs an async function body in a page."""

    def __init__(self, script: BrowserScript, app: WebTransportApp) -> None:
        self.script = script
        self.app = app

    @classmethod
    async def start(cls, app: WebTransportApp) -> Pages:
        """Launch Chromium (with QUIC) for ``app``."""
        require_browser()
        script = await BrowserScript.start("webtransport", url=app.url, bundle=str(BUNDLE))
        return cls(script, app)

    async def _ask(self, timeout: float = 30.0, **command: Any) -> Any:  # noqa: ASYNC109
        await self.script.tell(**command)
        answer = await self.script.step(timeout)
        if "failed" in answer:
            raise AssertionError(f"{command.get('op')} in the page failed: {answer['failed']}")
        return answer["result"]

    async def open(self, page: str) -> None:
        """A new page (its own browser context) with the client bundle."""
        await self._ask(op="open", page=page)

    async def eval(self, page: str, code: str, timeout: float = 30.0) -> Any:  # noqa: ASYNC109
        """Run ``code`` (an async function body) in ``page``; its JSON-able return value."""
        return await self._ask(timeout, op="eval", page=page, code=code)

    async def connect(self, page: str, transports: list[str], **options: Any) -> dict[str, Any]:
        """``window.socket = io(...)`` over ``transports`` with the certificate pinned; waits for
        ``connect`` and reports ``{id, transport}``. Every event the socket sees is logged in
        ``window.seen``."""
        hash_bytes = list(self.app.certificate.sha256)
        opts = {"transports": transports, **options}
        code = f"""
            const opts = {json.dumps(opts)};
            opts.transportOptions = {{ webtransport: {{ serverCertificateHashes: [
                {{ algorithm: "sha-256", value: new Uint8Array({json.dumps(hash_bytes)}) }}] }} }};
            window.seen = [];
            const socket = io("{self.app.url}", opts);
            window.socket = socket;
            socket.on("disconnect", (reason) => window.seen.push(["disconnect", reason]));
            socket.on("connect_error", (err) => window.seen.push(["connect_error", String(err)]));
            socket.onAny((...args) => window.seen.push(["event", args.map((a) =>
                a instanceof ArrayBuffer ? {{ bytes: Array.from(new Uint8Array(a)) }} : a)]));
            await new Promise((resolve, reject) => {{
                socket.once("connect", resolve);
                setTimeout(() => reject(new Error("no connect: " + JSON.stringify(window.seen))), 15000);
            }});
            return {{ id: socket.id, transport: socket.io.engine.transport.name }};
        """
        result: dict[str, Any] = await self.eval(page, code)
        return result

    async def close_page(self, page: str) -> None:
        """Close ``page`` (and its browser context)."""
        await self._ask(op="close", page=page)

    async def close(self) -> None:
        """Quit Chromium."""
        try:
            await self.script.tell(op="quit")
        finally:
            await self.script.close()
