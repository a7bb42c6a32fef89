"""The seam between an HTTP host (the embedded server, the ASGI app) and the Engine.IO server.

A host parses HTTP and WebSocket framing; the engine speaks Engine.IO. They meet through these types:

* The host builds a :class:`Request` for every request under the engine's ``path`` and calls
  ``app.handle_request(request, respond)``. The engine calls ``respond(response)`` exactly once, maybe
  later (a long-polling GET waits for data). If the client goes away first, the host calls
  ``request.on_abort()`` when the engine has set it.
* For a WebSocket upgrade request the host calls ``app.handle_websocket(request, connection)``. The
  engine answers with ``connection.accept(handler)`` (the host completes the upgrade and from then on
  feeds every message to ``handler.on_message``) or ``connection.reject(response)`` (plain HTTP answer).
* A broadcast reaches many connections as one :class:`PreparedMessages`: the engine encodes its
  messages once, and a host may keep its wire form (``frames``) on it, so that every further
  connection writes the same bytes.

Everything here is callback based so that no task is needed per message or per request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol
from urllib.parse import parse_qsl

from aiosio.engine.deflate import PerMessageDeflate

__all__ = [
    "EngineApp",
    "PreparedMessages",
    "Request",
    "Response",
    "WebSocketConnection",
    "WebSocketHandler",
]


class Request:
    """An HTTP request as the engine sees it. Header names are lower case."""

    __slots__ = (
        "_query",
        "body",
        "body_too_large",
        "client",
        "headers",
        "method",
        "on_abort",
        "path",
        "query_string",
        "scheme",
    )

    def __init__(
        self,
        method: str,
        path: str,
        query_string: str = "",
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        *,
        client: tuple[str, int] | None = None,
        scheme: str = "http",
        body_too_large: bool = False,
    ) -> None:
        self.method = method
        self.path = path
        self.query_string = query_string
        self.headers: dict[str, str] = headers if headers is not None else {}
        self.body = body
        self.client = client
        self.scheme = scheme
        #: True when the body was larger than ``EngineApp.max_http_buffer_size``; ``body`` is then empty.
        self.body_too_large = body_too_large
        #: Set by the engine while it holds the request; the host calls it if the client disconnects.
        self.on_abort: Callable[[], None] | None = None
        self._query: dict[str, str] | None = None

    @property
    def query(self) -> dict[str, str]:
        """The query string as a dict (the first value wins for repeated keys)."""
        if self._query is None:
            query: dict[str, str] = {}
            text = self.query_string
            if "%" in text or "+" in text or ";" in text:
                pairs = parse_qsl(text, keep_blank_values=True)
            else:  # nothing to decode: the common case (EIO=4&transport=polling&t=...&sid=...)
                pairs = [(k, v) for k, _, v in (p.partition("=") for p in text.split("&") if p)]
            for key, value in pairs:
                query.setdefault(key, value)
            self._query = query
        return self._query

    @property
    def url(self) -> str:
        """Path and query string, as they appeared in the request line."""
        return f"{self.path}?{self.query_string}" if self.query_string else self.path

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.url}>"


class Response:
    """An HTTP response from the engine. The host adds ``Content-Length`` itself."""

    __slots__ = ("body", "headers", "status")

    def __init__(
        self, status: int, headers: list[tuple[str, str]] | None = None, body: bytes = b""
    ) -> None:
        self.status = status
        self.headers: list[tuple[str, str]] = headers if headers is not None else []
        self.body = body

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.body[:60]!r}>"


class PreparedMessages:
    """WebSocket messages written to many connections, encoded once.

    ``messages`` are what :meth:`WebSocketConnection.send` would be given, in order. ``frames`` and
    ``variants`` are free for the host: the embedded server stores the framed bytes in ``frames`` on
    first use, and every other connection writes that same object; ``variants`` holds other wire
    forms by a key of the host's (compressed frames, for connections that compress alike).
    """

    __slots__ = ("frames", "messages", "variants")

    def __init__(self, messages: tuple[str | bytes, ...]) -> None:
        self.messages = messages
        self.frames: bytes | None = None
        self.variants: dict[object, bytes] | None = None

    def __repr__(self) -> str:
        return f"<PreparedMessages {len(self.messages)}>"


class WebSocketHandler(Protocol):
    """What the engine gives the host for an accepted WebSocket."""

    def on_message(self, data: str | bytes) -> None:
        """A complete text (``str``) or binary (``bytes``) message arrived."""

    def on_disconnect(self, error: str | None = None) -> None:
        """The connection is gone (closed by the peer, by the host, or lost). Called once.

        ``error`` describes a protocol violation that ended it (a bad frame, a message over the size
        limit); it is ``None`` for an orderly close or a lost connection.
        """


class WebSocketConnection(Protocol):
    """What the host gives the engine for one WebSocket upgrade request."""

    def accept(
        self, handler: WebSocketHandler, headers: list[tuple[str, str]] | None = None
    ) -> None:
        """Complete the upgrade (101, with ``headers`` added) and deliver messages to ``handler``."""

    def reject(self, response: Response) -> None:
        """Refuse the upgrade with a plain HTTP response."""

    def send(self, data: str | bytes, compress: bool = True) -> None:
        """Queue one text (``str``) or binary (``bytes``) message. Never blocks.

        ``compress=False`` (the Engine.IO packet's flag) keeps it uncompressed where the host
        negotiated permessage-deflate; hosts without it ignore the flag.
        """

    def send_prepared(self, prepared: PreparedMessages, compress: bool = True) -> None:
        """Queue ``prepared.messages`` (the same object goes to many connections). Never blocks."""

    def close(self, code: int = 1000) -> None:
        """Send a close frame and close the connection once it is flushed."""

    @property
    def buffered_amount(self) -> int:
        """Bytes queued but not yet handed to the kernel (for backpressure)."""


class EngineApp(Protocol):
    """An Engine.IO server as the HTTP hosts see it."""

    #: The URL path prefix the engine answers, with a trailing slash (``/engine.io/``).
    path: str
    #: The largest request body or WebSocket message accepted, in bytes (inflated size, when
    #: permessage-deflate is on).
    max_http_buffer_size: int
    #: permessage-deflate for hosts that negotiate WebSocket extensions themselves (``None``: off).
    per_message_deflate: PerMessageDeflate | None

    def handle_request(self, request: Request, respond: Callable[[Response], None]) -> None:
        """Handle one HTTP request under ``path``; ``respond`` is called exactly once."""

    def handle_websocket(self, request: Request, connection: WebSocketConnection) -> None:
        """Handle a WebSocket upgrade request under ``path``."""
