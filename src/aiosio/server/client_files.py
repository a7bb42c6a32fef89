"""Serving the browser client bundle under the Socket.IO path (``serve_client``)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

from aiosio.engine.http import EngineApp, Request, Response, WebSocketConnection

__all__ = ["CLIENT_FILES", "ClientServingApp", "find_client_dist"]

logger = logging.getLogger("aiosio.server")

#: The files of the reference's ``client-dist`` that may be served.
CLIENT_FILES = frozenset(
    {
        "socket.io.js",
        "socket.io.js.map",
        "socket.io.min.js",
        "socket.io.min.js.map",
        "socket.io.esm.min.js",
        "socket.io.esm.min.js.map",
        "socket.io.msgpack.min.js",
        "socket.io.msgpack.min.js.map",
    }
)


def find_client_dist(start: Path | None = None) -> Path | None:
    """The ``node_modules/socket.io-client/dist`` directory above ``start`` (default: the cwd)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        dist = folder / "node_modules" / "socket.io-client" / "dist"
        if (dist / "socket.io.min.js").is_file():
            return dist
    return None


class ClientServingApp:
    """An :class:`EngineApp` in front of the engine that answers ``<path>socket.io[.min].js`` itself."""

    __slots__ = ("_cache", "dist", "engine", "max_http_buffer_size", "path", "per_message_deflate")

    def __init__(self, engine: EngineApp, dist: Path) -> None:
        self.engine = engine
        self.dist = dist
        self.path = engine.path
        self.max_http_buffer_size = engine.max_http_buffer_size
        self.per_message_deflate = engine.per_message_deflate
        self._cache: dict[str, tuple[bytes, str]] = {}

    def _file(self, name: str) -> tuple[bytes, str] | None:
        cached = self._cache.get(name)
        if cached is None:
            try:
                body = (self.dist / name).read_bytes()
            except OSError:
                return None
            cached = (body, '"' + hashlib.sha1(body).hexdigest()[:16] + '"')
            self._cache[name] = cached
        return cached

    def handle_request(self, request: Request, respond: Callable[[Response], None]) -> None:
        name = request.path[len(self.engine.path) :]
        if request.method == "GET" and name in CLIENT_FILES:
            found = self._file(name)
            if found is not None:
                body, etag = found
                if request.headers.get("if-none-match") in (etag, "W/" + etag):
                    respond(Response(304, [("ETag", etag)]))
                    return
                kind = "json" if name.endswith(".map") else "javascript"
                headers = [
                    ("Content-Type", f"application/{kind}; charset=utf-8"),
                    ("Cache-Control", "public, max-age=0"),
                    ("ETag", etag),
                ]
                respond(Response(200, headers, body))
                return
        self.engine.handle_request(request, respond)

    def handle_websocket(self, request: Request, connection: WebSocketConnection) -> None:
        self.engine.handle_websocket(request, connection)
