"""The Engine.IO v4 client: HTTP long-polling, WebSocket, and the upgrade from one to the other.

One :class:`EngineClient` is one Engine.IO session. It performs the handshake, answers the server's
pings and closes the session with ``"ping timeout"`` when no ping arrives within ``ping_interval +
ping_timeout``: the heartbeat and the upgrade are decided by the session machine the server uses
(:mod:`aiosio.protocol.session_machine`, client role); this module performs its actions (the transports
are in :mod:`aiosio.client.transports`). Outgoing packets go through one writer task per session:
while a long-polling POST is in flight, further packets wait and leave together in the next POST,
as in the reference.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Literal
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from aiohttp.abc import AbstractCookieJar

from .. import _json
from .._handlers import spawn
from ..protocol.engineio import (
    Packet,
    PacketType,
)
from ..protocol.session import CloseReason
from ..protocol.session_machine import Action, EngineSession
from ..protocol.session_table import Act, Event, Role, Upgrade
from .transports import (
    ERRORS,
    Polling,
    Transport,
    TransportError,
    WebSocket,
    as_transport_error,
)

__all__ = ["EngineClient", "TransportError"]

_logger = logging.getLogger("aiosio.client")

PROTOCOL: Final = "4"
TRANSPORTS: Final = ("polling", "websocket")
_CLOSE_TIMEOUT: Final = 2.0
#: the states in which a session reads and writes
_RUNNING: Final = frozenset(("open", "closing"))

State = Literal["new", "opening", "open", "closing", "closed"]


class _PriorWebSocket:
    """Whether the last session of this process reached WebSocket (``remember_upgrade``).

    Process-wide, as the reference keeps it: set when a session opens (true over WebSocket) and when
    a probe succeeds, cleared when a transport fails.
    """

    success = False


def _noop(*_args: Any) -> None:
    return None


class EngineClient:
    """One Engine.IO client session over polling, WebSocket, or polling upgraded to WebSocket.

    Call :meth:`open` (the handshake), then :meth:`start` once the caller is ready for packets.
    The ``on_*`` attributes are the callbacks: ``on_message(data)``, ``on_ping()``,
    ``on_error(exc)``, ``on_close(reason, description)`` and ``on_upgrade(transport_name)``.
    """

    __slots__ = (
        "_buffer",
        "_drained",
        "_idle",
        "_leftover",
        "_machine",
        "_ping_handle",
        "_probe_task",
        "_reader",
        "_sending",
        "_tasks",
        "_teardown",
        "_upgraded",
        "_upgrading",
        "_wake",
        "_writer",
        "extra_headers",
        "headers",
        "http_url",
        "id",
        "max_payload",
        "on_close",
        "on_error",
        "on_message",
        "on_ping",
        "on_upgrade",
        "per_message_deflate",
        "ping_interval",
        "ping_timeout",
        "query",
        "remember_upgrade",
        "session",
        "ssl",
        "state",
        "transport",
        "transports",
        "try_all_transports",
        "upgrade",
        "upgrades",
        "with_credentials",
        "ws_url",
    )

    def __init__(
        self,
        url: str,
        *,
        path: str = "/engine.io/",
        query: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        transports: Iterable[str] = TRANSPORTS,
        upgrade: bool = True,
        with_credentials: bool = False,
        ssl: Any = True,
        remember_upgrade: bool = False,
        try_all_transports: bool = False,
        per_message_deflate: bool = False,
    ) -> None:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https", "ws", "wss"):
            raise ValueError(f"unsupported URL scheme {parts.scheme!r}")
        if not parts.hostname:
            raise ValueError(f"URL {url!r} has no host")
        secure = scheme in ("https", "wss")
        host = parts.hostname
        if ":" in host:
            host = f"[{host}]"
        port = parts.port
        netloc = host if port is None or port == (443 if secure else 80) else f"{host}:{port}"
        path = "/" + path.strip("/") + "/" if path.strip("/") else "/"
        self.http_url = f"{'https' if secure else 'http'}://{netloc}{path}"
        self.ws_url = f"{'wss' if secure else 'ws'}://{netloc}{path}"
        merged = dict(parse_qsl(parts.query))
        if query:
            merged.update({str(k): str(v) for k, v in query.items()})
        self.query: dict[str, str] = merged
        self.extra_headers = dict(extra_headers or {})
        self.headers = {"Accept": "*/*", **self.extra_headers}
        self.transports = [t for t in transports]
        if not self.transports:
            raise ValueError("at least one transport is required")
        for name in self.transports:
            if name not in TRANSPORTS:
                raise ValueError(f"unknown transport {name!r}")
        self.upgrade = upgrade
        #: start over WebSocket when the previous session of this process upgraded to it
        self.remember_upgrade = remember_upgrade
        #: when the first transport cannot open, try the next ones in turn
        self.try_all_transports = try_all_transports
        self.with_credentials = with_credentials
        self.ssl = ssl
        #: offer permessage-deflate on the WebSocket (aiohttp then compresses every message)
        self.per_message_deflate = per_message_deflate
        self.state: State = "new"
        self.id: str | None = None
        self.ping_interval = 25.0
        self.ping_timeout = 20.0
        self.max_payload = 0
        self.upgrades: list[str] = []
        self.transport: Transport | None = None
        self.session: aiohttp.ClientSession = None  # type: ignore[assignment]
        self.on_message: Callable[[str | bytes], None] = _noop
        self.on_ping: Callable[[], None] = _noop
        self.on_error: Callable[[BaseException], None] = _noop
        self.on_close: Callable[[str, Any], None] = _noop
        self.on_upgrade: Callable[[str], None] = _noop
        self._buffer: list[Packet] = []
        self._leftover: list[Packet] = []
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._sending = False
        self._upgrading = False
        self._upgraded = asyncio.Event()
        self._upgraded.set()
        self._ping_handle: asyncio.TimerHandle | None = None
        #: the session machine (heartbeat and upgrade), from :meth:`start` on
        self._machine: EngineSession | None = None
        self._reader: asyncio.Future[Any] | None = None
        self._writer: asyncio.Future[Any] | None = None
        self._probe_task: asyncio.Future[Any] | None = None
        self._teardown: asyncio.Future[Any] | None = None
        self._tasks: list[asyncio.Future[Any]] = []

    # -- public surface ------------------------------------------------------------------------

    @property
    def transport_name(self) -> str | None:
        """``"polling"`` or ``"websocket"`` once open."""
        return None if self.transport is None else self.transport.name

    @property
    def closed(self) -> bool:
        """Whether the session is over."""
        return self.state == "closed"

    @property
    def writable(self) -> bool:
        """Whether a packet written now would leave at once (what volatile emits check)."""
        return self.state == "open" and not self._sending

    def params(self, transport: str, *, stamp: bool = False) -> dict[str, str]:
        """Query parameters for a request on ``transport``."""
        params = {**self.query, "EIO": PROTOCOL, "transport": transport}
        if self.id is not None:
            params["sid"] = self.id
        if stamp:
            params["t"] = secrets.token_urlsafe(6)
        return params

    async def open(self) -> None:
        """Connect and complete the handshake; raises :class:`TransportError` on failure."""
        if self.state != "new":
            raise RuntimeError("an EngineClient opens only once")
        self.state = "opening"
        jar: AbstractCookieJar = (
            aiohttp.CookieJar(unsafe=True) if self.with_credentials else aiohttp.DummyCookieJar()
        )
        self.session = aiohttp.ClientSession(
            cookie_jar=jar,
            timeout=aiohttp.ClientTimeout(total=None),
            connector=aiohttp.TCPConnector(ssl=self.ssl),
        )
        candidates = list(self.transports)
        if self.remember_upgrade and _PriorWebSocket.success and "websocket" in candidates:
            candidates = ["websocket"]
        for index, first in enumerate(candidates):
            try:
                await self._open_transport(first)
                break
            except BaseException as exc:
                if isinstance(exc, ERRORS):
                    _PriorWebSocket.success = False
                    if self.try_all_transports and index + 1 < len(candidates):
                        _logger.debug("opening over %s failed (%r), trying the next", first, exc)
                        await self._drop_transport()
                        continue
                self.state = "closed"
                self._teardown = spawn(self._finalize(), _logger)
                if isinstance(exc, TransportError):
                    raise
                if isinstance(exc, ERRORS):
                    what = "websocket error" if first == "websocket" else "xhr poll error"
                    raise TransportError(what, exc) from exc
                raise
        self.state = "open"
        _PriorWebSocket.success = self.transport_name == "websocket"

    async def _open_transport(self, first: str) -> None:
        transport: Transport = (
            WebSocket(await self._ws_connect()) if first == "websocket" else Polling(self)
        )
        self.transport = transport
        packets = await transport.receive()
        if not packets or packets[0].type is not PacketType.OPEN:
            raise TransportError(transport.read_error, "no handshake")
        self._handshake(packets[0])
        self._leftover = list(packets[1:])

    async def _drop_transport(self) -> None:
        """Forget a transport that failed to open, before trying the next one."""
        transport, self.transport = self.transport, None
        self.id = None
        if transport is not None:
            with contextlib.suppress(Exception):
                await transport.close()

    def start(self) -> None:
        """Begin reading, writing, heartbeat supervision and (for polling) the upgrade probe."""
        transport = self.transport
        if self.state != "open" or transport is None:
            return
        # The client probes without a deadline of its own, as the reference's does.
        self._machine = EngineSession(
            Role.CLIENT,
            self.id or "",
            max(self.ping_interval, 1e-3),
            max(self.ping_timeout, 1e-3),
            math.inf,
            asyncio.get_running_loop().time(),
            pinger=False,
            polling=transport.upgradable,
        )
        self._reschedule()
        self._writer = spawn(self._write_loop(), _logger)
        self._reader = spawn(self._read_loop(transport), _logger)
        if transport.upgradable and self.upgrade and "websocket" in self.upgrades:
            self._probe_task = spawn(self._probe(), _logger)

    def write(self, data: str | bytes, compress: bool = True) -> None:
        """Queue one message (text, or a binary attachment).

        ``compress`` is the reference's per-packet flag: it asks for WebSocket compression where
        permessage-deflate is negotiated. aiohttp, once it is negotiated, compresses every message
        and cannot leave one out, and polling request bodies are never compressed, so here it
        changes nothing on the wire.
        """
        del compress
        self._send_packet(Packet(PacketType.MESSAGE, data))

    def ping_expired(self) -> bool:
        """Whether the ping deadline passed; if so the session closes soon with "ping timeout"."""
        machine = self._machine
        if self.state != "open" or machine is None:
            return False
        loop = asyncio.get_running_loop()
        deadline = machine.heartbeat.next_deadline()
        if deadline is not None and loop.time() > deadline:
            actions = machine.time_passed(loop.time())
            loop.call_soon(self._run, actions)
            return True
        return False

    def close(self) -> asyncio.Future[Any]:
        """Flush queued packets, tell the server goodbye and release everything, without callbacks.

        Returns the future of the teardown.
        """
        self.on_message = self.on_ping = self.on_upgrade = _noop
        self.on_error = self.on_close = _noop
        if self.state in ("opening", "open"):
            self.state = "closing"
            self._teardown = spawn(self._graceful_close(), _logger)
        elif self.state == "new":
            self.state = "closed"
        return self.wait_closed_future()

    def wait_closed_future(self) -> asyncio.Future[Any]:
        """A future that completes once every resource of the session is released."""
        if self._teardown is None:
            fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            fut.set_result(None)
            return fut
        return self._teardown

    async def wait_closed(self) -> None:
        """Wait until every resource of the session is released."""
        await asyncio.shield(self.wait_closed_future())

    # -- internals -----------------------------------------------------------------------------

    async def _ws_connect(self) -> aiohttp.ClientWebSocketResponse:
        return await self.session.ws_connect(
            self.ws_url,
            params=self.params("websocket"),
            headers=self.extra_headers,
            autoping=True,
            max_msg_size=0,
            compress=15 if self.per_message_deflate else 0,
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=_CLOSE_TIMEOUT),
        )

    def _handshake(self, packet: Packet) -> None:
        try:
            info = _json.loads(packet.data or "")
            self.id = str(info["sid"])
            self.ping_interval = float(info["pingInterval"]) / 1000.0
            self.ping_timeout = float(info["pingTimeout"]) / 1000.0
            self.max_payload = int(info.get("maxPayload") or 0)
            upgrades = info.get("upgrades") or []
        except (ValueError, KeyError, TypeError) as exc:
            raise TransportError("invalid handshake", exc) from exc
        self.upgrades = [u for u in upgrades if u in self.transports]

    def _send_packet(self, packet: Packet) -> None:
        if self.state in ("closing", "closed"):
            return
        self._buffer.append(packet)
        self._drained.clear()
        self._wake.set()

    def _reschedule(self) -> None:
        machine = self._machine
        deadline = machine.next_deadline() if machine is not None else None
        if deadline is None:
            return
        handle = self._ping_handle
        if handle is not None:
            if handle.when() == deadline:
                return
            handle.cancel()
        self._ping_handle = asyncio.get_running_loop().call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._ping_handle = None
        if self._machine is not None:
            self._run(self._machine.time_passed(asyncio.get_running_loop().time()))

    def _on_packet(self, packet: Packet) -> None:
        if packet.type is PacketType.MESSAGE:
            # A documented bypass of the machine: a message changes no state.
            data = packet.data
            self.on_message("" if data is None else data)
            return
        machine = self._machine
        if machine is not None:
            self._run(machine.packet(packet, asyncio.get_running_loop().time()))

    def _run(self, actions: list[Action]) -> None:
        """Perform what the session machine asks (the heartbeat's and the server's close)."""
        for action in actions:
            kind = action.kind
            if kind is Act.SEND_PONG:
                self._send_packet(Packet(PacketType.PONG, action.data))
            elif kind is Act.EMIT_HEARTBEAT:
                self.on_ping()
            elif kind is Act.CLOSED:
                if action.reason is CloseReason.TRANSPORT_CLOSE:
                    self._close_now("transport close", "transport closed by the server")
                else:
                    reason = action.reason.value if action.reason is not None else "forced close"
                    self._close_now(reason, action.description)
                return
        self._reschedule()

    def _fail(self, exc: BaseException) -> None:
        if self.state == "closed":
            return
        _logger.debug("engine %s transport error: %r", self.id, exc)
        error = exc if isinstance(exc, TransportError) else TransportError("transport error", exc)
        self.on_error(error)
        self._close_now("transport error", error)

    def _take_writable(self, transport: Transport) -> list[Packet]:
        buffer = self._buffer
        count = transport.batch(buffer, self.max_payload)
        if count < len(buffer):
            taken = buffer[:count]
            del buffer[:count]
            return taken
        self._buffer = []
        return buffer

    async def _write_loop(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._buffer and not self._upgrading and self.state in ("open", "closing"):
                    transport = self.transport
                    assert transport is not None
                    packets = self._take_writable(transport)
                    self._sending = True
                    self._idle.clear()
                    try:
                        await transport.send(packets)
                    finally:
                        self._sending = False
                        self._idle.set()
                if not self._buffer:
                    self._drained.set()
        except ERRORS as exc:
            self._drained.set()
            self._fail(as_transport_error(exc, "write error"))

    async def _read_loop(self, transport: Transport) -> None:
        try:
            leftover, self._leftover = self._leftover, []
            for packet in leftover:
                if self.state == "closed":
                    return
                self._on_packet(packet)
            while self.state in _RUNNING and transport.receiving:
                packets = await transport.receive()
                if packets is None:
                    self._close_now("transport close", f"{transport.name} connection closed")
                    return
                for packet in packets:
                    if self.state == "closed":
                        return
                    self._on_packet(packet)
        except ERRORS as exc:
            self._fail(as_transport_error(exc, transport.read_error))
        finally:
            transport.reader_stopped()

    def _alive(self) -> bool:
        return self.state in _RUNNING

    async def _probe(self) -> None:
        candidate: WebSocket | None = None
        machine = self._machine
        assert machine is not None
        loop = asyncio.get_running_loop()
        try:
            candidate = WebSocket(await self._ws_connect())
            if not self._expect(machine.probe_offered(loop.time()), Act.SEND_PROBE):
                return
            await candidate.send([Packet(PacketType.PING, "probe")])
            replies = await candidate.receive()
            # A closed candidate answers nothing: a probe failure like any wrong answer.
            reply = replies[0] if replies else Packet(PacketType.NOOP)
            if not self._expect(machine.probe_packet(reply, loop.time()), Act.PAUSE_POLL):
                raise TransportError("probe error", reply.data)
            if not self._alive():
                return
            # Pause polling: no new POST, and wait for the GET and POST in flight to finish.
            polling = self.transport
            assert polling is not None
            self._upgrading = True
            self._upgraded.clear()
            await polling.pause()
            await self._idle.wait()
            if not self._alive():
                return
            if not self._expect(machine.handle(Event.POLL_PAUSED, loop.time()), Act.SWITCH):
                return
            transport, candidate = candidate, None
            self.transport = transport
            await transport.send([Packet(PacketType.UPGRADE)])
            self._upgrading = False
            self._upgraded.set()
            self._reader = spawn(self._read_loop(transport), _logger)
            self._wake.set()
            _PriorWebSocket.success = True
            _logger.debug("engine %s upgraded to websocket", self.id)
            self.on_upgrade("websocket")
        except ERRORS as exc:
            _logger.debug("engine %s upgrade failed: %r", self.id, exc)
        finally:
            if machine.upgrade in (Upgrade.PROBING, Upgrade.UPGRADING):
                machine.handle(Event.PROBE_CLOSED, loop.time())
            if self._upgrading:
                self._resume_polling()
            if candidate is not None:
                await candidate.close()

    @staticmethod
    def _expect(actions: list[Action], wanted: Act) -> bool:
        """Whether the machine's answer to a step of the probe goes on with ``wanted``."""
        return any(action.kind is wanted for action in actions)

    def _resume_polling(self) -> None:
        self._upgrading = False
        self._upgraded.set()
        transport = self.transport
        if transport is not None and transport.resume() and self._alive():
            if self._reader is None or self._reader.done():
                self._reader = spawn(self._read_loop(transport), _logger)
            self._wake.set()

    def _close_now(self, reason: str, description: Any) -> None:
        """The session is over (lost, or closed by the server): release it and report ``reason``."""
        if self.state == "closed":
            return
        self.state = "closed"
        self._buffer = []
        if self._machine is not None:
            self._machine.handle(Event.DISCARD)
        if self._teardown is None:
            self._teardown = spawn(self._finalize(), _logger)
        on_close = self.on_close
        self.on_message = self.on_ping = self.on_upgrade = _noop
        self.on_error = self.on_close = _noop
        on_close(reason, description)

    async def _graceful_close(self) -> None:
        try:
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                if self._upgrading:
                    await self._upgraded.wait()
                farewell = self.transport.farewell() if self.transport is not None else []
                if farewell and self.state == "closing":
                    self._buffer.extend(farewell)
                    self._drained.clear()
                    self._wake.set()
                if self._buffer or self._sending:
                    await self._drained.wait()
        except ERRORS:
            pass
        self.state = "closed"
        await self._finalize()

    async def _finalize(self) -> None:
        if self._ping_handle is not None:
            self._ping_handle.cancel()
            self._ping_handle = None
        current = asyncio.current_task()
        tasks = [t for t in (self._reader, self._writer, self._probe_task) if t is not None]
        for task in tasks:
            if task is not current:
                task.cancel()
        pending = [t for t in tasks if t is not current and not t.done()]
        if pending:
            await asyncio.wait(pending)
        transport = self.transport
        if transport is not None:
            with contextlib.suppress(*ERRORS):
                await transport.close()
        if self.session is not None:
            await self.session.close()
