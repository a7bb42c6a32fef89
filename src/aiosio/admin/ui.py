"""Serving the Admin UI's static files (the npm package's ``ui/dist``) from the same server."""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
from collections.abc import Callable
from pathlib import Path

from aiosio.engine.http import Request, Response

__all__ = ["UIFiles", "find_ui_dist"]

_EXTERNAL = re.compile(rb'<link rel="stylesheet" href="https://[^"]*">')
_ICONS_CSS = b"mdi/css/materialdesignicons.min.css"


def find_ui_dist(start: Path | None = None) -> Path | None:
    """The ``node_modules/@socket.io/admin-ui/ui/dist`` directory above ``start`` (default: cwd)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        dist = folder / "node_modules" / "@socket.io" / "admin-ui" / "ui" / "dist"
        if (dist / "index.html").is_file():
            return dist
    return None


def find_icons(dist: Path) -> Path | None:
    """The ``@mdi/font`` package next to the UI's (the icon font the page loads from a CDN)."""
    for folder in dist.resolve().parents:
        icons = folder / "node_modules" / "@mdi" / "font"
        if (icons / "css" / "materialdesignicons.min.css").is_file():
            return icons
    return None


class UIFiles:
    """A plain HTTP handler for ``<prefix>...``: the UI's files, read once and kept in memory.

    The page is given two changes: its links to outside font and icon sites are dropped (so that it
    works without Internet access; the icon font is served from ``node_modules/@mdi/font`` when it is
    installed), and the connection form is filled in with this server's address and Socket.IO path
    when the browser has nothing saved yet.
    """

    __slots__ = ("_cache", "dist", "icons", "io_path", "prefix")

    def __init__(self, dist: Path, prefix: str, io_path: str) -> None:
        if not prefix.startswith("/") or not prefix.endswith("/"):
            raise ValueError("the UI prefix starts and ends with '/'")
        self.dist = dist.resolve()
        self.icons = find_icons(self.dist)
        self.prefix = prefix
        self.io_path = io_path.rstrip("/") or "/"
        self._cache: dict[str, tuple[bytes, str, str]] = {}

    def _index(self) -> bytes:
        page = _EXTERNAL.sub(b"", (self.dist / "index.html").read_bytes())
        if self.icons is not None:
            link = b'<link rel="stylesheet" href="' + _ICONS_CSS + b'">'
            page = page.replace(b"</title>", b"</title>" + link, 1)
        defaults = json.dumps({"path": self.io_path})
        script = (
            "<script>(function(){var d=" + defaults + ";try{"
            'if(!localStorage.getItem("server_url"))'
            'localStorage.setItem("server_url",location.origin);'
            'if(!localStorage.getItem("path"))localStorage.setItem("path",d.path);'
            "}catch(e){}})();</script>"
        )
        return page.replace(b"</head>", script.encode() + b"</head>", 1)

    def _file(self, name: str) -> tuple[bytes, str, str] | None:
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        root, relative = self.dist, name
        if name.startswith("mdi/") and self.icons is not None:
            root, relative = self.icons.resolve(), name[4:]
        path = (root / relative).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        body = self._index() if name == "index.html" else path.read_bytes()
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
            kind += "; charset=utf-8"
        cached = (body, kind, '"' + hashlib.sha1(body).hexdigest()[:16] + '"')
        self._cache[name] = cached
        return cached

    def __call__(self, request: Request, respond: Callable[[Response], None]) -> None:
        """Answer a request under the prefix (the prefix without its slash redirects)."""
        if request.method not in ("GET", "HEAD"):
            respond(Response(405, [("Allow", "GET, HEAD")]))
            return
        path = request.path
        if path + "/" == self.prefix:
            respond(Response(301, [("Location", self.prefix)]))
            return
        name = path[len(self.prefix) :] or "index.html"
        found = self._file(name)
        if found is None:
            respond(Response(404, [("Content-Type", "text/plain")], b"not found"))
            return
        body, kind, etag = found
        if request.headers.get("if-none-match") == etag:
            respond(Response(304, [("ETag", etag)]))
            return
        headers = [("Content-Type", kind), ("Cache-Control", "no-cache"), ("ETag", etag)]
        respond(Response(200, headers, b"" if request.method == "HEAD" else body))
