"""HTTP/1.1 on a plain asyncio Protocol with httptools: keep-alive, pipelining, upgrades."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from email.utils import formatdate
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, cast

import httptools

from aiosio._http.permessage import negotiate
from aiosio._http.websocket import DeflateWebSocket, WebSocket, handshake_error
from aiosio.engine.deflate import PerMessageDeflate
from aiosio.engine.http import Request, Response

if TYPE_CHECKING:
    from aiosio._http.host import Host

__all__ = ["MAX_HEAD_SIZE", "HttpProtocol", "render_response"]

logger = logging.getLogger("aiosio.http")

#: Largest request line plus headers accepted (Node's default); more is answered with 431.
MAX_HEAD_SIZE = 16 * 1024
#: Parsed requests queued behind one in flight before the connection stops reading.
_MAX_PIPELINE = 16
#: Bytes a client may send after an upgrade request before the engine has decided.
_MAX_EARLY_DATA = 64 * 1024
#: Bodies up to this size are copied into the response head; larger ones are written beside it.
_JOIN_LIMIT = 4096

# Kinds of queued work.
_HTTP, _WEBSOCKET = 0, 1
# What the connection's one deadline is waiting for.
_NO_DEADLINE, _KEEP_ALIVE, _HEADERS, _REQUEST = 0, 1, 2, 3
_DEADLINE_NAMES = {
    _KEEP_ALIVE: "keep_alive_timeout",
    _HEADERS: "headers_timeout",
    _REQUEST: "request_timeout",
}

_REASONS = {s.value: s.phrase for s in HTTPStatus}
#: Header names as received -> their lower-case str, shared by every request (a kept handshake
#: request then holds no copies of them). Bounded: names past the limit are decoded each time.
_HEADER_NAMES: dict[bytes, str] = {}
_MAX_HEADER_NAMES = 512
_date = [0, b""]


def _date_header() -> bytes:
    now = int(time.time())
    if now != _date[0]:
        _date[0] = now
        _date[1] = f"date: {formatdate(now, usegmt=True)}\r\n".encode("ascii")
    return _date[1]  # type: ignore[return-value]


def render_response(response: Response, *, keep_alive: bool, http10: bool = False) -> bytes:
    """The status line and headers of ``response`` (with ``content-length`` and ``connection``)."""
    status = response.status
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"]
    for name, value in response.headers:
        lines.append(f"{name}: {value}\r\n")
    lines.append(f"content-length: {len(response.body)}\r\n")
    if not keep_alive:
        lines.append("connection: close\r\n")
    elif http10:
        lines.append("connection: keep-alive\r\n")
    return "".join(lines).encode("latin-1") + _date_header() + b"\r\n"


class HttpProtocol(asyncio.Protocol):
    """One HTTP/1.1 connection. Handed over to a :class:`WebSocket` after a successful upgrade."""

    __slots__ = (
        "_body",
        "_body_size",
        "_client",
        "_closing",
        "_completed",
        "_current",
        "_current_head",
        "_current_keep",
        "_deadline",
        "_deadline_kind",
        "_error",
        "_handoff",
        "_head_raw",
        "_head_size",
        "_headers",
        "_host",
        "_in_head",
        "_in_message",
        "_paused",
        "_queue",
        "_rest",
        "_since",
        "_started",
        "_timer",
        "_too_large",
        "_upgrade",
        "_upgraded",
        "_url",
        "_ws",
        "parser",
        "transport",
    )

    def __init__(self, host: Host) -> None:
        self._host = host
        self.transport: asyncio.Transport | None = None
        self.parser: Any = httptools.HttpRequestParser(self)
        self._client: tuple[str, int] | None = None
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] | None = None
        self._body_size = 0
        self._too_large = False
        self._head_size = 0
        self._head_raw = 0
        self._completed = 0
        self._in_head = False
        self._in_message = False
        self._upgrade = False
        self._error = 0
        self._current: Request | None = None
        self._current_keep = True
        self._current_head = False
        self._queue: deque[tuple[Request, int, bool, bool]] | None = None
        self._paused = False
        self._ws: WebSocket | None = None
        self._handoff: WebSocket | None = None
        self._rest = b""
        self._upgraded = False
        self._closing = False
        # One deadline at a time (keep-alive idle, headers, whole request) and one timer for it,
        # moved lazily: a request only stores a float, the timer re-arms itself when it fires early.
        self._deadline = 0.0
        self._deadline_kind = _NO_DEADLINE
        self._timer: asyncio.TimerHandle | None = None
        self._since = 0.0  # when the connection opened or the last answer left
        self._started = 0.0  # when the current request's first byte arrived

    # -- asyncio.Protocol --
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport but implement it.
        self.transport = transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self._client = (str(peer[0]), int(peer[1]))
        host = self._host
        host.connections.add(self)
        self._since = now = host.loop.time()
        self._set_deadline(_HEADERS, now + host.headers_timeout)

    def data_received(self, data: bytes) -> None:
        if self._upgraded:
            self._early_data(data)
            return
        if self._error:
            return
        was_in_head = self._in_head
        completed = self._completed
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self._upgraded = True
            if not self._error and exc.args and isinstance(exc.args[0], int):
                rest = data[exc.args[0] :]
                handoff = self._handoff
                if handoff is None:
                    self._early_data(rest)
                elif rest:
                    # The engine accepted during the parse: the WebSocket owns the socket already.
                    handoff.data_received(rest)
        except httptools.HttpParserError as exc:
            if not self._error:
                logger.debug("malformed request from %s: %s", self._client, exc)
                self._fail(400)
            return
        if self._in_head:
            # httptools buffers an unfinished header line without telling; count raw bytes too.
            # A head that began in this chunk with no message before it began at offset 0.
            if was_in_head:
                self._head_raw += len(data)
            elif completed == self._completed:
                self._head_raw = len(data)
            if self._head_raw > MAX_HEAD_SIZE and not self._error:
                self._fail(431)

    def eof_received(self) -> bool | None:
        # As in Node's http server (httpAllowHalfOpen false): the client's FIN aborts its request.
        return None

    def pause_writing(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self._paused:
            self.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._host.forget(self)
        self._clear_timer()
        self._queue = None
        self.parser = None
        ws = self._ws
        if ws is not None:
            self._ws = None
            ws.lost()
        request = self._current
        if request is not None:
            self._current = None
            abort = request.on_abort
            if abort is not None:
                request.on_abort = None
                try:
                    abort()
                except Exception:
                    logger.exception("request abort callback failed")
        self.transport = None

    # -- httptools callbacks --
    def on_message_begin(self) -> None:
        host = self._host
        self._started = host.loop.time()
        self._set_deadline(_HEADERS, self._since + host.headers_timeout)
        self._in_message = True
        self._in_head = True
        self._head_size = 0
        self._head_raw = 0
        self._url = b""
        self._headers = {}
        self._body = None
        self._body_size = 0
        self._too_large = False
        self._upgrade = False

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        if self._head_size > MAX_HEAD_SIZE:
            return
        key = _HEADER_NAMES.get(name)
        if key is None:
            key = name.decode("latin-1").lower()
            if len(_HEADER_NAMES) < _MAX_HEADER_NAMES:
                _HEADER_NAMES[name] = key
        text = value.decode("latin-1")
        headers = self._headers
        if key in headers:
            text = headers[key] + ("; " if key == "cookie" else ", ") + text
        headers[key] = text

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._set_deadline(_REQUEST, self._started + self._host.request_timeout)
        if self._head_size > MAX_HEAD_SIZE and not self._error:
            self._fail(431)
            return
        self._upgrade = bool(self.parser.should_upgrade())

    def on_body(self, body: bytes) -> None:
        if self._too_large:
            return
        self._body_size += len(body)
        if self._body_size > self._host.app.max_http_buffer_size:
            self._too_large = True
            self._body = None
            return
        if self._body is None:
            self._body = [body]
        else:
            self._body.append(body)

    def on_message_complete(self) -> None:
        self._in_message = False
        self._completed += 1
        # Whatever the request waits for now (a held poll, an upgrade) is the engine's to time.
        self._deadline_kind = _NO_DEADLINE
        if self._error:
            return
        parser = self.parser
        url = self._url
        path, _, query = url.partition(b"?")
        if b"#" in query:
            query = query.partition(b"#")[0]
        chunks = self._body
        body = b"" if chunks is None else chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._body = None
        method = parser.get_method().decode("ascii")
        request = Request(
            method,
            path.decode("latin-1"),
            query.decode("latin-1"),
            self._headers,
            body,
            client=self._client,
            scheme=self._host.scheme,
            body_too_large=self._too_large,
        )
        keep = bool(parser.should_keep_alive()) and not self._too_large
        kind = _HTTP
        if self._upgrade:
            if "websocket" in self._headers.get("upgrade", "").lower():
                kind = _WEBSOCKET
            keep = False
        http10 = parser.get_http_version() == "1.0"
        item = (request, kind, keep, http10)
        if self._current is None and not self._queue:
            self._run(item)
        else:
            queue = self._queue
            if queue is None:
                queue = self._queue = deque()
            queue.append(item)
            if len(queue) >= _MAX_PIPELINE and self.transport is not None:
                self._paused = True
                self.transport.pause_reading()

    # -- dispatch --
    def _run(self, item: tuple[Request, int, bool, bool]) -> None:
        request, kind, keep, http10 = item
        host = self._host
        self._current = request
        self._current_keep = keep and not self._closing
        self._current_head = http10
        under_path = request.path.startswith(host.app.path)
        if kind == _WEBSOCKET and under_path:
            self._current = None
            self._start_websocket(request)
            return
        respond = _Responder(self, request)
        try:
            if under_path:
                host.app.handle_request(request, respond)
            elif host.fallback is not None:
                host.fallback(request, respond)
            else:
                respond(Response(404, [("content-type", "text/plain")], b"Not Found"))
        except Exception:
            logger.exception("request handler failed for %r", request)
            respond(Response(500, [("content-type", "text/plain")], b"Internal Server Error"))

    def respond(self, request: Request, response: Response) -> None:
        """Write ``response`` for ``request`` if it is still the one in flight."""
        if request is not self._current or self.transport is None:
            return
        request.on_abort = None
        self._current = None
        transport = self.transport
        keep = self._current_keep and not self._closing
        head = render_response(response, keep_alive=keep, http10=self._current_head)
        body = b"" if request.method == "HEAD" else response.body
        if len(body) <= _JOIN_LIMIT:
            transport.write(head + body)
        else:
            transport.writelines((head, body))
        if not keep:
            self._error = self._error or -1  # ignore whatever else the client sends
            transport.close()
            return
        host = self._host
        self._since = now = host.loop.time()
        queue = self._queue
        if not queue and not self._in_message:
            self._set_deadline(_KEEP_ALIVE, now + host.keep_alive_timeout)
        if queue:
            self._run(queue.popleft())
            if self._paused and self.transport is not None and len(queue) < _MAX_PIPELINE // 2:
                self._paused = False
                self.transport.resume_reading()
        elif self._error > 0 and self._current is None:
            self._write_error()

    def _fail(self, status: int) -> None:
        """Answer a broken request with ``status`` and close (after earlier answers)."""
        self._error = status
        if self._current is None and not self._queue:
            self._write_error()

    def _write_error(self) -> None:
        transport = self.transport
        if transport is None:
            return
        status = self._error
        phrase = _REASONS.get(status, "Bad Request").encode("ascii")
        response = Response(status, [("content-type", "text/plain")], phrase)
        transport.write(render_response(response, keep_alive=False) + response.body)
        transport.close()

    # -- WebSocket upgrade --
    def _early_data(self, data: bytes) -> None:
        """Bytes after an upgrade request: keep them for the WebSocket, bounded."""
        self._rest += data
        if len(self._rest) > _MAX_EARLY_DATA and self.transport is not None:
            self.transport.close()

    def _start_websocket(self, request: Request) -> None:
        host = self._host
        problem = handshake_error(request)
        transport = self.transport
        if transport is None:
            return
        if problem is not None:
            logger.debug("bad websocket handshake from %s: %s", self._client, problem)
            body = f"Bad WebSocket handshake: {problem}".encode()
            self.reject_websocket(
                Response(
                    400,
                    [("content-type", "text/plain"), ("sec-websocket-version", "13")],
                    body,
                )
            )
            return
        max_size = host.app.max_http_buffer_size
        # An app written before the option existed has no such attribute: no extension then.
        options: PerMessageDeflate | None = getattr(host.app, "per_message_deflate", None)
        offers = request.headers.get("sec-websocket-extensions") if options is not None else None
        deflate = negotiate(offers, options) if offers and options is not None else None
        ws = (
            WebSocket(self, transport, request, max_size, host.forget)
            if deflate is None
            else DeflateWebSocket(self, transport, request, max_size, host.forget, deflate)
        )
        self._ws = ws
        try:
            host.app.handle_websocket(request, ws)
        except Exception:
            logger.exception("websocket handler failed for %r", request)
            ws.reject(Response(500, [("content-type", "text/plain")], b"Internal Server Error"))

    def detach_websocket(self, ws: WebSocket) -> bytes:
        """Hand the transport to ``ws`` (after its 101); return bytes the client sent early."""
        rest = self._rest
        self._rest = b""
        self._ws = None
        self._handoff = ws
        self._clear_timer()
        self._queue = None
        self.parser = None
        host = self._host
        host.forget(self)
        host.connections.add(ws)
        if self.transport is not None:
            self.transport.set_protocol(ws)
            self.transport = None
        return rest

    def reject_websocket(self, response: Response) -> None:
        """Answer an upgrade request with ``response`` and close."""
        self._ws = None
        self._rest = b""
        transport = self.transport
        if transport is None:
            return
        self._error = -1
        transport.write(render_response(response, keep_alive=False) + response.body)
        transport.close()

    # -- timeouts --
    def _set_deadline(self, kind: int, when: float) -> None:
        self._deadline = when
        self._deadline_kind = kind
        timer = self._timer
        if timer is None:
            self._timer = self._host.loop.call_at(when, self._on_deadline)
        elif when < timer.when():
            timer.cancel()
            self._timer = self._host.loop.call_at(when, self._on_deadline)

    def _clear_timer(self) -> None:
        self._deadline_kind = _NO_DEADLINE
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_deadline(self) -> None:
        self._timer = None
        kind = self._deadline_kind
        transport = self.transport
        if kind == _NO_DEADLINE or transport is None or self._upgraded:
            return
        if self._host.loop.time() < self._deadline:
            self._timer = self._host.loop.call_at(self._deadline, self._on_deadline)
            return
        self._deadline_kind = _NO_DEADLINE
        logger.debug(
            "closing the connection from %s: %s expired", self._client, _DEADLINE_NAMES[kind]
        )
        if kind == _KEEP_ALIVE or self._current is not None or self._queue:
            transport.close()
        else:
            # As Node's http server: 408 to a client that did not finish its request in time.
            self._fail(408)

    # -- server shutdown --
    def shutdown(self) -> None:
        """Close now if idle, else right after the answer in flight."""
        self._closing = True
        if self.transport is None:
            return
        if self._ws is not None:
            self._ws.shutdown()
            return
        if self._current is None and self._ws is None and not self._in_message:
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection without waiting."""
        if self.transport is not None:
            self.transport.abort()


class _Responder:
    """The ``respond`` callable given to the engine for one request."""

    __slots__ = ("_protocol", "_request")

    def __init__(self, protocol: HttpProtocol, request: Request) -> None:
        self._protocol = protocol
        self._request = request

    def __call__(self, response: Response) -> None:
        self._protocol.respond(self._request, response)
