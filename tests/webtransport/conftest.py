"""A Socket.IO server with WebTransport on (embedded HTTP server + HTTP/3 host) for these tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from aiosio.engine.http import Response
from aiosio.server import Server, Socket
from aiosio.webtransport import (
    WebTransportServer,
    certificate_hash,
    self_signed_certificate,
)


@dataclass
class Certificate:
    """A self-signed ECDSA P-256 certificate on disk, valid 10 days, and its SHA-256 (DER)."""

    certfile: str
    keyfile: str
    sha256: bytes


@dataclass
class WebTransportApp:
    """``io`` serving HTTP on ``http_port`` and WebTransport on ``wt_port``; what the sockets did."""

    io: Server
    http_port: int
    wt: WebTransportServer
    certificate: Certificate
    sockets: asyncio.Queue[Socket] = field(default_factory=asyncio.Queue)
    events: asyncio.Queue[tuple[str, Any]] = field(default_factory=asyncio.Queue)

    @property
    def url(self) -> str:
        """The HTTP origin (the page's)."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def wt_port(self) -> int:
        """The UDP port WebTransport listens on."""
        return self.wt.port

    async def next_socket(self, timeout: float = 10.0) -> Socket:  # noqa: ASYNC109
        """The next socket that connected."""
        async with asyncio.timeout(timeout):
            return await self.sockets.get()

    async def next_event(self, timeout: float = 10.0) -> tuple[str, Any]:  # noqa: ASYNC109
        """The next (name, value) a socket reported."""
        async with asyncio.timeout(timeout):
            return await self.events.get()


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Wait (polling every 20 ms) until ``condition()`` holds; fail after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - the engine has no event for these
            await asyncio.sleep(0.02)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "server_options(**kwargs): options for the test's Server")
    config.addinivalue_line(
        "markers", "webtransport_options(**kwargs): options for the test's WebTransport host"
    )


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """One certificate for the whole run."""
    directory: Path = tmp_path_factory.mktemp("webtransport-cert")
    cert_pem, key_pem = self_signed_certificate(("localhost", "127.0.0.1"), days=10)
    (directory / "cert.pem").write_bytes(cert_pem)
    (directory / "key.pem").write_bytes(key_pem)
    return Certificate(
        str(directory / "cert.pem"), str(directory / "key.pem"), certificate_hash(cert_pem)
    )


@pytest.fixture
async def wt_app(
    certificate: Certificate, request: pytest.FixtureRequest
) -> AsyncIterator[WebTransportApp]:
    """The server: echo with acks, binary echo, and every disconnect reason reported.

    ``@pytest.mark.server_options(...)`` adds options for :class:`Server`,
    ``@pytest.mark.webtransport_options(...)`` for its WebTransport host (``Server.listen``'s
    ``webtransport``).
    """
    marker = request.node.get_closest_marker("server_options")
    options: dict[str, Any] = {
        "transports": ["polling", "websocket", "webtransport"],
        "cors": "*",
        **(marker.kwargs if marker is not None else {}),
    }
    io = Server(**options)
    marker = request.node.get_closest_marker("webtransport_options")
    wt_options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}

    # WebTransport listens on the HTTP port's number, over UDP: where the client looks for it.
    # The system picks a free TCP port; the same UDP port is nearly always free too (else retry).
    for attempt in range(5):
        try:
            http_port = await io.listen(
                0,
                fallback=lambda request, respond: _blank(respond),
                webtransport={
                    "certfile": certificate.certfile,
                    "keyfile": certificate.keyfile,
                    **wt_options,
                },
            )
            break
        except OSError:
            if attempt == 4:
                raise
    wt = io.webtransport_server
    assert isinstance(wt, WebTransportServer)
    assert wt.port == http_port
    app = WebTransportApp(io, http_port, wt, certificate)

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        app.sockets.put_nowait(socket)
        socket.conn.on("upgrade", lambda name: app.events.put_nowait(("upgrade", name)))
        socket.on("disconnect", lambda reason: app.events.put_nowait(("disconnect", reason)))

        @socket.on("echo")
        def echo(*args: Any) -> list[Any]:
            app.events.put_nowait(("echo", list(args)))
            return list(args)

        @socket.on("tell")
        def tell(*args: Any) -> None:
            app.events.put_nowait(("tell", list(args)))

    try:
        yield app
    finally:
        await io.close()
        await wt.close()


def _blank(respond: Any) -> None:
    """Any page on the HTTP origin will do: the client bundle is added to it."""
    respond(Response(200, [("Content-Type", "text/html")], b"<!doctype html><title>t</title>"))
