"""The Engine.IO v4 server: handshakes, routing to sessions, and the public ``EngineServer``."""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import secrets
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from .._json import loads as json_loads
from ..exceptions import EngineProtocolError
from ..protocol.engineio import Packet, PacketType, decode_packet
from ..protocol.session import open_packet
from .compression import HttpCompression, HttpCompressionOption
from .cors import CorsOption, CorsPolicy
from .deflate import PerMessageDeflate, PerMessageDeflateOption
from .eio3 import (
    JsonpPolling,
    JsonpPollingV3,
    PollingTransportV3,
    WebSocketTransportV3,
    jsonp_index,
    protocol_of,
    supports_binary,
)
from .errors import ERROR_MESSAGES, ErrorCode, RequestRefused, error_response
from .hosting import ASGIApplication, Listener, asgi_host, embedded_host
from .http import Request, Response, WebSocketConnection
from .options import MAX_WRITE_BUFFER_SIZE, TRANSPORTS, AllowRequest, EngineOptions
from .origin import OriginPolicy
from .polling import PollingTransport
from .socket import EngineSocket
from .websocket import WebSocketTransport, WebTransportTransport

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["MAX_WRITE_BUFFER_SIZE", "TRANSPORTS", "AllowRequest", "EngineServer"]

logger = logging.getLogger("aiosio.engine")

_SERVER_EVENTS = frozenset({"connection", "initial_headers", "headers", "connection_error"})
# The reference refuses an Origin header holding characters outside these.
_INVALID_HEADER_CHAR = re.compile(r"[^\t\x20-\x7e\x80-\xff]")

Respond = Callable[[Response], None]
#: Refuses a request: (code, context for the log, message, status).
Refuse = Callable[[ErrorCode, dict[str, Any], "str | None", "int | None"], None]


class EngineServer:
    """An Engine.IO v4 server.

    Options mirror the reference's (times in float seconds):

    * ``ping_interval`` (25), ``ping_timeout`` (20), ``upgrade_timeout`` (10).
    * ``max_http_buffer_size`` (1e6 bytes): the largest POST body or WebSocket message.
    * ``transports``: which of ``"polling"``, ``"websocket"`` and ``"webtransport"`` are allowed
      (default: polling and websocket; WebTransport also needs its HTTP/3 host, see
      :func:`aiosio.webtransport.serve_webtransport`).
    * ``path`` (``/engine.io/``), ``allow_upgrades`` (True).
    * ``cors``: ``None`` (no CORS headers), ``"*"``, an origin, a list of origins, a callable judging an
      origin, or a dict with ``origin``, ``credentials``, ``methods``, ``allowed_headers``,
      ``exposed_headers``, ``max_age``. It is also the origin policy: a browser request (one with an
      ``Origin`` header) from an origin ``cors`` does not allow is refused with 403, on every
      handshake, polling request and WebSocket upgrade; with no ``cors`` only the server's own origin
      is allowed, and ``cors="*"`` allows every origin (see ``docs/security.md``).
    * ``trusted_proxies``: addresses or networks (``"10.0.0.0/8"``, ``"*"`` for any) of proxies whose
      ``X-Forwarded-Proto`` / ``X-Forwarded-Host`` say what the server's own origin is.
    * ``allow_request``: a hook (sync or async) called with the handshake :class:`Request`; return
      ``False`` or a message string, or raise :class:`RequestRefused`, to refuse it (403 by default).
    * ``cookie``: ``None`` (no cookie), ``True`` or a dict (``name``, ``path``, ``http_only``,
      ``same_site``, ``secure``, ``max_age``, ``domain``) for a cookie holding the session id.
    * ``initial_packet``: a message sent right after the open packet.
    * ``max_write_buffer_size`` (4 MiB): bytes a session may have waiting to go out (queued for a
      client that does not read, or for a polling client that stopped polling) before it is closed with
      "transport error" (a slow client cannot grow the server's memory without bound).
    * ``http_compression`` (True): polling responses of 1024 bytes or more are compressed with gzip
      or deflate as ``Accept-Encoding`` asks; ``False`` turns it off, a dict sets ``threshold``
      (bytes) and ``level`` (zlib's 0-9, -1 for its default).
    * ``per_message_deflate`` (False): WebSocket compression (RFC 7692) on the embedded server:
      ``True``, or a :class:`~aiosio.engine.deflate.PerMessageDeflate` or dict (``threshold``
      1024 bytes, window bits, context takeover, ``level``, ``mem_level``). ASGI hosts negotiate it
      themselves (docs/embedded-server.md).
    * ``allow_eio3`` (False): also serve Engine.IO v3 clients (socket.io-client 2.x); without it
      their handshake gets error 5, "Unsupported protocol version".

    The options are validated as one :class:`~aiosio.engine.options.EngineOptions`, kept as
    :attr:`options` (a bad value raises ``ValueError`` naming it).
    """

    def __init__(
        self,
        *,
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
        upgrade_timeout: float = 10.0,
        max_http_buffer_size: int = 1_000_000,
        transports: Iterable[str] = TRANSPORTS,
        path: str = "/engine.io/",
        allow_upgrades: bool = True,
        cors: CorsOption = None,
        allow_request: AllowRequest | None = None,
        cookie: bool | dict[str, Any] | None = None,
        initial_packet: str | bytes | None = None,
        max_write_buffer_size: int = MAX_WRITE_BUFFER_SIZE,
        trusted_proxies: Iterable[str] = (),
        allow_eio3: bool = False,
        http_compression: HttpCompressionOption = True,
        per_message_deflate: PerMessageDeflateOption = False,
    ) -> None:
        #: The options, validated (see :class:`~aiosio.engine.options.EngineOptions`).
        self.options = options = EngineOptions(
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            upgrade_timeout=upgrade_timeout,
            max_http_buffer_size=max_http_buffer_size,
            transports=tuple(transports),
            path=path,
            allow_upgrades=allow_upgrades,
            cors=cors,
            allow_request=allow_request,
            cookie=cookie,
            initial_packet=initial_packet,
            max_write_buffer_size=max_write_buffer_size,
            trusted_proxies=tuple(trusted_proxies),
            allow_eio3=allow_eio3,
            http_compression=http_compression,
            per_message_deflate=per_message_deflate,
        )
        self.ping_interval = options.ping_interval
        self.ping_timeout = options.ping_timeout
        self.upgrade_timeout = options.upgrade_timeout
        self.max_http_buffer_size = options.max_http_buffer_size
        self.max_write_buffer_size = options.max_write_buffer_size
        self.transports = options.transports
        self.path = options.path
        self.allow_upgrades = options.allow_upgrades
        self.cors = CorsPolicy.from_option(cors)
        self.origin_policy = OriginPolicy(self.cors, options.trusted_proxies)
        self.allow_request = allow_request
        self.cookie = _cookie_options(cookie)
        self.initial_packet = initial_packet
        self.allow_eio3 = allow_eio3
        self.http_compression = HttpCompression.from_option(http_compression)
        self.per_message_deflate = PerMessageDeflate.from_option(options.per_message_deflate)
        self.clients: dict[str, EngineSocket] = {}
        self._listeners: dict[str, list[Callable[..., Any]]] = {}
        self._pending_handshakes: set[asyncio.Task[None]] = set()
        self._server: Listener | None = None

    # -- public API -----------------------------------------------------------------------------
    @property
    def clients_count(self) -> int:
        """How many sessions are open."""
        return len(self.clients)

    @overload
    def on(self, event: str, handler: F) -> F: ...
    @overload
    def on(self, event: str, handler: None = None) -> Callable[[F], F]: ...
    def on(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Add a listener: ``connection`` (EngineSocket), ``initial_headers`` / ``headers``
        (headers list, request), ``connection_error`` (request, code, message).

        Usable as a decorator when ``handler`` is omitted.
        """
        if event not in _SERVER_EVENTS:
            raise ValueError(f"unknown engine server event {event!r}")

        def register(fn: F) -> F:
            self._listeners.setdefault(event, []).append(fn)
            return fn

        return register(handler) if handler is not None else register

    async def listen(
        self,
        port: int = 3000,
        host: str = "127.0.0.1",
        *,
        headers_timeout: float | None = None,
        keep_alive_timeout: float | None = None,
        request_timeout: float | None = None,
    ) -> int:
        """Serve on the embedded HTTP server; returns the bound port (``port=0`` picks one).

        The timeouts (seconds, Node's names and defaults; ``None`` keeps the default) are described
        in :func:`aiosio.serve.serve`.
        """
        if self._server is not None:
            raise RuntimeError("the server is already listening")
        self._server = await embedded_host()(
            self,
            host,
            port,
            headers_timeout=headers_timeout,
            keep_alive_timeout=keep_alive_timeout,
            request_timeout=request_timeout,
        )
        return self._server.port

    def asgi_app(self, fallback: Any = None) -> ASGIApplication:
        """An ASGI 3 application (an :class:`aiosio.ASGIApp`) serving this engine; other paths go
        to ``fallback``."""
        return asgi_host()(self, fallback)

    async def close(self) -> None:
        """Close every session ("forced close") and stop the embedded server if it runs."""
        for task in list(self._pending_handshakes):
            task.cancel()
        for socket in list(self.clients.values()):
            socket.discard()
        server, self._server = self._server, None
        if server is not None:
            await server.close()

    # -- the host seam --------------------------------------------------------------------------
    def handle_request(self, request: Request, respond: Respond) -> None:
        """Handle one HTTP request under :attr:`path` (see :mod:`aiosio.engine.http`)."""
        try:
            self._handle_request(request, respond)
        except Exception:
            logger.exception("error handling %r", request)
            respond(Response(500, [], b""))

    def handle_websocket(self, request: Request, connection: WebSocketConnection) -> None:
        """Handle a WebSocket upgrade request under :attr:`path`."""
        try:
            self._handle_websocket(request, connection)
        except Exception:
            logger.exception("error handling websocket %r", request)
            connection.reject(Response(500, [], b""))

    # -- routing --------------------------------------------------------------------------------
    def _verify(self, request: Request, upgrade: bool) -> tuple[ErrorCode, dict[str, Any]] | None:
        query = request.query
        transport = query.get("transport")
        # WebTransport sessions come through handle_webtransport, never as HTTP requests.
        if transport not in self.transports or transport == "webtransport":
            return ErrorCode.UNKNOWN_TRANSPORT, {"transport": transport}
        origin = request.headers.get("origin")
        if origin is not None and _INVALID_HEADER_CHAR.search(origin):
            return ErrorCode.BAD_REQUEST, {"name": "INVALID_ORIGIN"}
        sid = query.get("sid")
        if sid:
            socket = self.clients.get(sid)
            if socket is None:
                return ErrorCode.UNKNOWN_SID, {"sid": sid}
            if not upgrade and socket.transport != transport:
                return ErrorCode.BAD_REQUEST, {"name": "TRANSPORT_MISMATCH"}
            if socket.protocol != protocol_of(request):
                return ErrorCode.BAD_REQUEST, {"name": "PROTOCOL_MISMATCH"}
        else:
            if request.method != "GET":
                return ErrorCode.BAD_HANDSHAKE_METHOD, {"method": request.method}
            if transport == "websocket" and not upgrade:
                return ErrorCode.BAD_REQUEST, {"name": "TRANSPORT_HANDSHAKE_ERROR"}
        # After the reference's own checks (their codes stay the same): the origin policy.
        if origin is not None:
            refusal = self.origin_policy.refusal(request)
            if refusal is not None:
                return ErrorCode.FORBIDDEN, {"name": "FORBIDDEN_ORIGIN", "hint": refusal}
        return None

    def refuse(
        self,
        request: Request,
        code: ErrorCode,
        context: dict[str, Any],
        message: str | None = None,
        status: int | None = None,
    ) -> Response:
        """The JSON error response for a refused HTTP request (and a log line)."""
        response = error_response(code, message, status, self._cors_headers(request))
        self._log_refusal(request, code, context, message)
        return response

    def _refuse_upgrade(
        self, request: Request, code: ErrorCode, context: dict[str, Any], message: str | None
    ) -> Response:
        """A refused WebSocket upgrade: 400 with the bare message as text/html, as the reference."""
        self._log_refusal(request, code, context, message)
        text = message or ERROR_MESSAGES[code]
        return Response(
            400, [("Connection", "close"), ("Content-Type", "text/html")], text.encode()
        )

    def _log_refusal(
        self, request: Request, code: ErrorCode, context: dict[str, Any], message: str | None
    ) -> None:
        # Session ids are credentials: they never reach a log line at INFO or above (the url and
        # the context may hold one), only the DEBUG line below.
        client = request.client[0] if request.client is not None else "?"
        hint = context.get("hint")
        if hint is not None:
            logger.warning("refused %s %s from %s: %s", request.method, request.path, client, hint)
        else:
            shown = {k: v for k, v in context.items() if k != "sid"}
            logger.info(
                "refused %s %s from %s: %s %s",
                request.method,
                request.path,
                client,
                code.name,
                shown,
            )
        logger.debug("refused %s %s: %s %s", request.method, request.url, code.name, context)
        self._emit("connection_error", request, int(code), message or ERROR_MESSAGES[code])

    def _handle_request(self, request: Request, respond: Respond) -> None:
        if request.method == "OPTIONS" and self.cors is not None:
            headers = self.cors.preflight_headers(request)
            respond(Response(204, headers, b""))
            return

        def refuse(
            code: ErrorCode, context: dict[str, Any], message: str | None, status: int | None
        ) -> None:
            respond(self.refuse(request, code, context, message, status))

        failure = self._verify(request, upgrade=False)
        if failure is not None:
            refuse(*failure, None, None)
            return
        sid = request.query.get("sid")
        if sid:
            if not self.clients[sid].polling_request(request, respond):
                refuse(ErrorCode.BAD_REQUEST, {"name": "UPGRADED"}, None, None)
            return
        self._start_handshake(request, lambda: self._open_polling(request, respond), refuse)

    def _handle_websocket(self, request: Request, connection: WebSocketConnection) -> None:
        def refuse(
            code: ErrorCode, context: dict[str, Any], message: str | None, status: int | None
        ) -> None:
            connection.reject(self._refuse_upgrade(request, code, context, message))

        failure = self._verify(request, upgrade=True)
        if failure is not None:
            if failure[0] is ErrorCode.FORBIDDEN:
                # A foreign origin: 403 with the JSON error body, as for polling.
                connection.reject(self.refuse(request, *failure))
            else:
                refuse(*failure, None, None)
            return
        query = request.query
        sid = query.get("sid")
        if sid:
            socket = self.clients[sid]
            transport = self._websocket_transport(socket, request, connection)
            connection.accept(transport)
            allowed = query.get("transport") == "websocket" and self.allow_upgrades
            socket.offer_upgrade(transport, allowed)
            return
        self._start_handshake(request, lambda: self._open_websocket(request, connection), refuse)

    # -- handshake ------------------------------------------------------------------------------
    def _start_handshake(
        self, request: Request, open_session: Callable[[], None], refuse: Refuse
    ) -> None:
        if self.allow_request is None:
            self._handshake(request, open_session, refuse)
            return
        task = asyncio.get_running_loop().create_task(
            self._checked_handshake(request, open_session, refuse)
        )
        self._pending_handshakes.add(task)
        task.add_done_callback(self._pending_handshakes.discard)

    async def _checked_handshake(
        self, request: Request, open_session: Callable[[], None], refuse: Refuse
    ) -> None:
        assert self.allow_request is not None
        try:
            verdict = self.allow_request(request)
            if inspect.isawaitable(verdict):
                verdict = await verdict
        except RequestRefused as exc:
            refuse(ErrorCode.FORBIDDEN, {}, exc.message, exc.status)
            return
        except Exception:
            logger.exception("allow_request hook failed")
            refuse(ErrorCode.FORBIDDEN, {}, None, None)
            return
        if verdict is False or isinstance(verdict, str):
            message = verdict if isinstance(verdict, str) else None
            refuse(ErrorCode.FORBIDDEN, {}, message, None)
            return
        self._handshake(request, open_session, refuse)

    def _handshake(
        self, request: Request, open_session: Callable[[], None], refuse: Refuse
    ) -> None:
        # A WebTransport session (CONNECT) speaks v4: the reference's client sends no query there.
        if request.method != "CONNECT" and protocol_of(request) == 3 and not self.allow_eio3:
            refuse(
                ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
                {"protocol": request.query.get("EIO")},
                None,
                None,
            )
            return
        open_session()

    def _new_socket(
        self, request: Request, transport_name: str, protocol: int | None = None
    ) -> EngineSocket:
        sid = secrets.token_urlsafe(15)
        while sid in self.clients:
            sid = secrets.token_urlsafe(15)
        if protocol is None:
            protocol = protocol_of(request)
        return EngineSocket(self, sid, request, transport_name, protocol)

    def _polling_transport(self, socket: EngineSocket, request: Request) -> PollingTransport:
        jsonp = jsonp_index(request)
        if jsonp is not None:
            return (
                JsonpPollingV3(socket, self, jsonp)
                if socket.protocol == 3
                else JsonpPolling(socket, self, jsonp)
            )
        if socket.protocol == 3:
            return PollingTransportV3(socket, self, supports_binary(request))
        return PollingTransport(socket, self)

    @staticmethod
    def _websocket_transport(
        socket: EngineSocket, request: Request, connection: WebSocketConnection
    ) -> WebSocketTransport:
        if socket.protocol == 3:
            return WebSocketTransportV3(socket, connection, supports_binary(request))
        return WebSocketTransport(socket, connection)

    def _open_packets(self, socket: EngineSocket, upgrades: list[str]) -> list[Packet]:
        packets = [
            open_packet(
                socket.id,
                upgrades,
                self.ping_interval,
                self.ping_timeout,
                self.max_http_buffer_size,
            )
        ]
        if self.initial_packet is not None:
            packets.append(Packet(PacketType.MESSAGE, self.initial_packet))
        return packets

    def _open_polling(self, request: Request, respond: Respond) -> None:
        socket = self._new_socket(request, "polling")
        upgrades: list[str] = (
            [t for t in ("websocket", "webtransport") if t in self.transports]
            if self.allow_upgrades
            else []
        )
        polling = self._polling_transport(socket, request)
        socket.attach(polling)
        self.clients[socket.id] = socket
        body, content_type = polling.encode(self._open_packets(socket, upgrades))
        self.respond(
            request, respond, 200, body, content_type, initial_sid=socket.id, compress=True
        )
        logger.debug("session %s opened over polling", socket.id)
        self._emit("connection", socket)

    def _open_websocket(self, request: Request, connection: WebSocketConnection) -> None:
        socket = self._new_socket(request, "websocket")
        self._open_on(
            socket, request, connection, self._websocket_transport(socket, request, connection)
        )

    def _open_on(
        self,
        socket: EngineSocket,
        request: Request,
        connection: WebSocketConnection,
        transport: WebSocketTransport,
    ) -> None:
        """Open ``socket``'s session on a message transport (WebSocket or WebTransport): the open
        packet is its first message, and no upgrade is offered."""
        socket.attach(transport)
        self.clients[socket.id] = socket
        connection.accept(transport, self._handshake_headers(request, socket.id))
        for packet in self._open_packets(socket, []):
            transport.send_packet(packet)
        logger.debug("session %s opened over %s", socket.id, transport.name)
        self._emit("connection", socket)

    # -- WebTransport ---------------------------------------------------------------------------
    def handle_webtransport(
        self, request: Request, connection: WebSocketConnection, first: str | bytes
    ) -> None:
        """Handle a WebTransport session whose stream delivered its first message, ``first``.

        The HTTP/3 host (:mod:`aiosio.webtransport`) has accepted the session; ``connection`` carries
        its stream as a WebSocket connection would (``reject`` closes the session). As the reference:
        the first packet must be an open packet, empty for a new session, ``{"sid": ...}`` to upgrade
        an existing one; anything else closes the session.
        """
        try:
            self._handle_webtransport(request, connection, first)
        except Exception:
            logger.exception("error handling webtransport %r", request)
            connection.reject(Response(500, [], b""))

    def _handle_webtransport(
        self, request: Request, connection: WebSocketConnection, first: str | bytes
    ) -> None:
        def refuse(
            code: ErrorCode, context: dict[str, Any], message: str | None, status: int | None
        ) -> None:
            # The session closes with the status and JSON body a polling request would get.
            connection.reject(self.refuse(request, code, context, message, status))

        if "webtransport" not in self.transports:
            refuse(ErrorCode.UNKNOWN_TRANSPORT, {"transport": "webtransport"}, None, None)
            return
        origin = request.headers.get("origin")
        if origin is not None:
            refusal = self.origin_policy.refusal(request)
            if refusal is not None:
                refuse(
                    ErrorCode.FORBIDDEN, {"name": "FORBIDDEN_ORIGIN", "hint": refusal}, None, None
                )
                return
        try:
            packet = decode_packet(first)
        except EngineProtocolError:
            packet = None
        if packet is None or packet.type is not PacketType.OPEN or isinstance(packet.data, bytes):
            refuse(ErrorCode.BAD_REQUEST, {"name": "INVALID_WEBTRANSPORT_HANDSHAKE"}, None, None)
            return
        if not packet.data:
            self._start_handshake(
                request, lambda: self._open_webtransport(request, connection), refuse
            )
            return
        try:
            sid = json_loads(packet.data).get("sid")
        except (ValueError, AttributeError):
            sid = None
        socket = self.clients.get(sid) if isinstance(sid, str) else None
        if socket is None:
            refuse(ErrorCode.UNKNOWN_SID, {"sid": sid}, None, None)
            return
        if not self.allow_upgrades or socket.protocol != 4 or not socket.upgradable:
            refuse(ErrorCode.BAD_REQUEST, {"name": "UPGRADE_REFUSED"}, None, None)
            return
        transport = WebTransportTransport(socket, connection)
        connection.accept(transport)
        socket.offer_upgrade(transport, allowed=True)

    def _open_webtransport(self, request: Request, connection: WebSocketConnection) -> None:
        socket = self._new_socket(request, "webtransport", protocol=4)
        self._open_on(socket, request, connection, WebTransportTransport(socket, connection))

    # -- helpers used by sessions ---------------------------------------------------------------
    def respond(
        self,
        request: Request,
        respond: Respond,
        status: int,
        body: bytes,
        content_type: str | None,
        *,
        initial_sid: str | None = None,
        compress: bool = False,
    ) -> None:
        """Answer a polling request: the content type, compression, CORS, and on a 200 the header
        hooks (and the cookie on a handshake)."""
        headers: list[tuple[str, str]] = []
        if content_type is not None:
            headers.append(("Content-Type", content_type))
        if compress and self.http_compression is not None:
            body, encoding = self.http_compression.apply(
                request.headers.get("accept-encoding"), body
            )
            if encoding is not None:
                headers.append(("Content-Encoding", encoding))
        if self.cors is not None:
            headers.extend(self.cors.headers(request))
        if status == 200:
            # A polling answer is never to be cached; the header hooks see it as the reference's do.
            headers.append(("Cache-Control", "no-store"))
            headers = self._handshake_headers(request, initial_sid, headers)
        respond(Response(status, headers, body))

    def _handshake_headers(
        self,
        request: Request,
        initial_sid: str | None,
        headers: list[tuple[str, str]] | None = None,
    ) -> list[tuple[str, str]]:
        """Run the header hooks (and set the cookie on a handshake) for one response."""
        if headers is None:
            headers = []
        if initial_sid is not None:
            if self.cookie is not None:
                headers.append(("Set-Cookie", _serialize_cookie(self.cookie, initial_sid)))
            self._emit("initial_headers", headers, request)
        self._emit("headers", headers, request)
        return headers

    def _cors_headers(self, request: Request) -> list[tuple[str, str]]:
        return self.cors.headers(request) if self.cors is not None else []

    def forget(self, socket: EngineSocket) -> None:
        """Drop a closed session (the session calls it as it closes)."""
        if self.clients.get(socket.id) is socket:
            del self.clients[socket.id]

    def _emit(self, event: str, *args: Any) -> None:
        for fn in tuple(self._listeners.get(event, ())):
            try:
                fn(*args)
            except Exception:
                logger.exception("error in %r listener", event)


def _cookie_options(cookie: bool | dict[str, Any] | None) -> dict[str, Any] | None:
    if cookie is None or cookie is False:
        return None
    options: dict[str, Any] = {"name": "io", "path": "/", "http_only": True, "same_site": "lax"}
    if isinstance(cookie, dict):
        unknown = set(cookie) - {
            "name",
            "path",
            "http_only",
            "same_site",
            "secure",
            "max_age",
            "domain",
        }
        if unknown:
            raise ValueError(f"unknown cookie options: {sorted(unknown)}")
        options.update(cookie)
        if cookie.get("path") is False:
            options["path"] = None
            options["http_only"] = cookie.get("http_only", False)
    return options


def _serialize_cookie(options: dict[str, Any], value: str) -> str:
    parts = [f"{options['name']}={value}"]
    if options.get("max_age") is not None:
        parts.append(f"Max-Age={int(options['max_age'])}")
    if options.get("domain"):
        parts.append(f"Domain={options['domain']}")
    if options.get("path"):
        parts.append(f"Path={options['path']}")
    if options.get("http_only"):
        parts.append("HttpOnly")
    if options.get("secure"):
        parts.append("Secure")
    same_site = options.get("same_site")
    if same_site:
        same_site = {"lax": "Lax", "strict": "Strict", "none": "None"}.get(
            str(same_site).lower(), str(same_site)
        )
        parts.append(f"SameSite={same_site}")
    return "; ".join(parts)
