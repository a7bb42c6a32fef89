"""The Manager: one Engine.IO connection shared by namespace sockets, with reconnection.

Events (``manager.on(name, handler)``): ``open``, ``error`` (exception), ``close`` (reason,
description),
``ping``, ``reconnect_attempt`` (attempt number), ``reconnect`` (attempt number),
``reconnect_error`` (exception) and ``reconnect_failed``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from .._handlers import Listeners, spawn
from ..exceptions import ClientConnectionError, SocketProtocolError
from ..protocol import socketio
from .backoff import Backoff
from .engine import TRANSPORTS, EngineClient
from .hooks import SocketHooks
from .socket import Auth, Socket

__all__ = ["Manager", "SocketHooks"]

_logger = logging.getLogger("aiosio.client")


class Manager(Listeners):
    """A connection to one Socket.IO server, multiplexed between namespaces, that reconnects itself.

    ``url`` is ``http(s)://host[:port]`` (a path in it names a namespace, not the server path;
    query parameters are sent with every request). Times are in seconds. ``random`` is the random
    source of the reconnection jitter (``random.random`` by default). ``engine_factory`` makes each
    Engine.IO session (``EngineClient(url, **engine_options)`` by default; :mod:`aiosio.testing`
    gives one that talks to a server in the same process). Event names (see the module docstring)
    are strings.

    As in the reference: ``auto_connect`` (True) lets :func:`aiosio.client.connect` connect the
    socket it returns; ``remember_upgrade`` (False) starts over WebSocket when the previous session of
    this process upgraded to it; ``try_all_transports`` (False) tries the next transport when the
    first one cannot open. ``per_message_deflate`` (False) offers WebSocket compression (RFC
    7692); unlike the reference's ``perMessageDeflate`` it is off by default, since aiohttp, once
    the server accepts, compresses every message whatever its size.
    """

    _logger = _logger
    _str_names = True

    def __init__(
        self,
        url: str,
        *,
        path: str = "/socket.io/",
        query: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        transports: Iterable[str] = TRANSPORTS,
        upgrade: bool = True,
        with_credentials: bool = False,
        ssl: Any = True,
        reconnection: bool = True,
        reconnection_attempts: float = math.inf,
        reconnection_delay: float = 1.0,
        reconnection_delay_max: float = 5.0,
        randomization_factor: float = 0.5,
        timeout: float | None = 20.0,
        random: Callable[[], float] | None = None,
        parser: Any = None,
        engine_factory: Callable[..., EngineClient] = EngineClient,
        auto_connect: bool = True,
        remember_upgrade: bool = False,
        try_all_transports: bool = False,
        per_message_deflate: bool = False,
    ) -> None:
        self.uri = url
        self._engine_factory = engine_factory
        self.engine_options: dict[str, Any] = {
            "path": path,
            "query": dict(query or {}),
            "extra_headers": dict(extra_headers or {}),
            "transports": list(transports),
            "upgrade": upgrade,
            "with_credentials": with_credentials,
            "ssl": ssl,
            "remember_upgrade": remember_upgrade,
            "try_all_transports": try_all_transports,
        }
        if per_message_deflate:
            # Only when asked, so engine factories that know no WebSocket extensions still work.
            self.engine_options["per_message_deflate"] = True
        # Fail early on a bad URL or option.
        engine_factory(url, **self.engine_options)
        if reconnection_attempts < 0:
            raise ValueError("reconnection_attempts must be >= 0")
        self.reconnection = reconnection
        #: whether :func:`aiosio.client.connect` connects the socket it returns
        self.auto_connect = auto_connect
        self.reconnection_attempts = reconnection_attempts
        self.timeout = timeout
        self.backoff = Backoff(
            min_delay=reconnection_delay,
            max_delay=reconnection_delay_max,
            jitter=randomization_factor,
            random=random,
        )
        self.parser = parser if parser is not None else socketio.DEFAULT_PARSER
        self.encoder = self.parser.encoder()
        self.decoder = self.parser.decoder()
        #: ``"closed"``, ``"opening"`` or ``"open"``.
        self.ready_state: Literal["closed", "opening", "open"] = "closed"
        #: The current Engine.IO session, if any.
        self.engine: EngineClient | None = None
        #: Namespace sockets by namespace name.
        self.nsps: dict[str, Socket] = {}
        #: what the active sockets want to hear, by namespace name
        self._hooks: dict[str, SocketHooks] = {}
        Listeners.__init__(self)
        self._reconnecting = False
        self._skip_reconnect = False
        self._open_task: asyncio.Future[Any] | None = None
        self._open_timer: asyncio.TimerHandle | None = None
        self._reconnect_timer: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Future[Any]] = set()

    # -- options (reference names) -------------------------------------------------------------

    @property
    def reconnection_delay(self) -> float:
        """First delay between reconnection attempts, in seconds."""
        return self.backoff.min_delay

    @reconnection_delay.setter
    def reconnection_delay(self, value: float) -> None:
        self.backoff.min_delay = value

    @property
    def reconnection_delay_max(self) -> float:
        """Largest delay between reconnection attempts, in seconds."""
        return self.backoff.max_delay

    @reconnection_delay_max.setter
    def reconnection_delay_max(self, value: float) -> None:
        self.backoff.max_delay = value

    @property
    def randomization_factor(self) -> float:
        """Jitter of the delay, between 0 and 1."""
        return self.backoff.jitter

    @randomization_factor.setter
    def randomization_factor(self, value: float) -> None:
        self.backoff.jitter = value

    @property
    def reconnecting(self) -> bool:
        """Whether a reconnection is scheduled or in progress."""
        return self._reconnecting

    # -- sockets -------------------------------------------------------------------------------

    def socket(
        self,
        namespace: str = "/",
        *,
        auth: Auth = None,
        retries: int = 0,
        ack_timeout: float | None = None,
        max_buffered: int | None = None,
    ) -> Socket:
        """The socket of ``namespace`` on this connection (made on first use, not yet connected)."""
        if not namespace.startswith("/"):
            namespace = "/" + namespace
        socket = self.nsps.get(namespace)
        if socket is None:
            socket = Socket(
                self,
                namespace,
                auth=auth,
                retries=retries,
                ack_timeout=ack_timeout,
                max_buffered=max_buffered,
            )
            self.nsps[namespace] = socket
        return socket

    def activate(self, namespace: str, hooks: SocketHooks) -> None:
        """Package-internal (the socket of ``namespace``): the socket wants to connect; tell it
        what happens to the connection through ``hooks`` until :meth:`deactivate`."""
        self._hooks[namespace] = hooks

    def deactivate(self, namespace: str) -> None:
        """Package-internal (the socket of ``namespace``): the socket left; close the connection
        if it was the last active one."""
        self._hooks.pop(namespace, None)
        if not self._active_hooks():
            self._close()

    def _active_hooks(self) -> list[SocketHooks]:
        hooks = self._hooks
        return [hooks[name] for name in self.nsps if name in hooks]

    # -- opening -------------------------------------------------------------------------------

    def open(self) -> None:
        """Start connecting, unless already open or opening. Failures retry as configured."""
        if self.ready_state != "closed":
            return
        self._start_open(reconnect=False)

    def _start_open(self, *, reconnect: bool) -> None:
        self.ready_state = "opening"
        self._skip_reconnect = False
        self._open_task = spawn(self._open(reconnect), _logger)

    async def _open(self, reconnect: bool) -> None:
        engine = self._engine_factory(self.uri, **self.engine_options)
        self.engine = engine
        error: BaseException | None = None
        try:
            if self.timeout is None:
                await engine.open()
            else:
                async with asyncio.timeout(self.timeout):
                    await engine.open()
        except TimeoutError:
            error = ClientConnectionError("timeout")
        except ClientConnectionError as exc:
            error = exc
        except asyncio.CancelledError:
            self._track(engine.close())
            raise
        finally:
            self._open_task = None
        if error is not None:
            self._track(engine.close())
            if self.engine is engine:
                self.engine = None
            self._on_open_error(error, reconnect)
            return
        self._on_open(engine)
        if reconnect:
            self._on_reconnect()

    def _on_open_error(self, error: BaseException, reconnect: bool) -> None:
        _logger.debug("connection to %s failed: %r", self.uri, error)
        self.ready_state = "closed"
        self._emit_error(error)
        if reconnect:
            self._reconnecting = False
            self._reconnect()
            self._emit_reserved("reconnect_error", error)
        elif self.reconnection and not self._reconnecting and self.backoff.attempts == 0:
            self._reconnect()
        else:
            self._give_up(error)

    def _emit_error(self, error: BaseException) -> None:
        self._emit_reserved("error", error)
        for hooks in self._active_hooks():
            hooks.on_error(error)

    def _give_up(self, error: BaseException) -> None:
        for hooks in self._active_hooks():
            hooks.on_give_up(error)

    def _on_open(self, engine: EngineClient) -> None:
        self.ready_state = "open"
        self.decoder = self.parser.decoder()
        engine.on_message = self._on_data
        engine.on_ping = self._on_ping
        engine.on_error = self._on_engine_error
        engine.on_close = self._on_close
        self._emit_reserved("open")
        for hooks in self._active_hooks():
            hooks.on_open()
        engine.start()

    def _on_ping(self) -> None:
        self._emit_reserved("ping")

    def _on_engine_error(self, error: BaseException) -> None:
        self._emit_error(error)

    def _on_data(self, data: str | bytes) -> None:
        try:
            packet = self.decoder.add(data)
        except SocketProtocolError as exc:
            _logger.debug("parse error from %s: %r", self.uri, exc)
            self._on_close("parse error", exc)
            return
        if packet is not None:
            hooks = self._hooks.get(packet.nsp)
            if hooks is not None:
                hooks.on_packet(packet)

    def write_packet(self, packet: socketio.Packet, compress: bool = True) -> None:
        """Encode ``packet`` and write it on the current Engine.IO session (dropped when there is
        none). ``compress=False`` keeps it out of WebSocket compression."""
        engine = self.engine
        if engine is None:
            return
        for part in self.encoder.encode(packet):
            engine.write(part, compress)

    # -- closing and reconnecting --------------------------------------------------------------

    def _track(self, future: asyncio.Future[Any]) -> asyncio.Future[Any]:
        if not future.done():
            self._closing.add(future)
            future.add_done_callback(self._closing.discard)
        return future

    def _cleanup(self) -> None:
        if self._reconnect_timer is not None:
            self._reconnect_timer.cancel()
            self._reconnect_timer = None
        task = self._open_task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            self._track(task)
        self._open_task = None

    def _close(self) -> None:
        self._skip_reconnect = True
        self._reconnecting = False
        self._on_close("forced close", None)

    def _on_close(self, reason: str, description: Any) -> None:
        _logger.debug("connection to %s closed: %s", self.uri, reason)
        self._cleanup()
        engine = self.engine
        self.engine = None
        if engine is not None:
            self._track(engine.close())
        self.backoff.reset()
        was = self.ready_state
        self.ready_state = "closed"
        if was != "closed" or reason != "forced close":
            self._emit_reserved("close", reason, description)
            for hooks in self._active_hooks():
                hooks.on_close(reason, description)
        if self.reconnection and not self._skip_reconnect:
            self._reconnect()

    def _reconnect(self) -> None:
        if self._reconnecting or self._skip_reconnect:
            return
        if self.backoff.attempts >= self.reconnection_attempts:
            _logger.debug("reconnection to %s failed", self.uri)
            self.backoff.reset()
            self._reconnecting = False
            self._emit_reserved("reconnect_failed")
            self._give_up(ClientConnectionError("reconnect failed"))
            return
        delay = self.backoff.duration()
        _logger.debug("reconnecting to %s in %.3f s", self.uri, delay)
        self._reconnecting = True
        loop = asyncio.get_running_loop()
        self._reconnect_timer = loop.call_later(delay, self._reconnect_now)

    def _reconnect_now(self) -> None:
        self._reconnect_timer = None
        if self._skip_reconnect:
            return
        self._emit_reserved("reconnect_attempt", self.backoff.attempts)
        if self._skip_reconnect:
            return
        if self.ready_state != "closed":
            return
        self._start_open(reconnect=True)

    def _on_reconnect(self) -> None:
        attempt = self.backoff.attempts
        self._reconnecting = False
        self.backoff.reset()
        self._emit_reserved("reconnect", attempt)

    def close(self) -> asyncio.Future[None]:
        """Disconnect every socket, close the connection and stop reconnecting.

        Returns a future that completes once the transport is released (awaiting it is optional).
        """
        for socket in list(self.nsps.values()):
            if socket.active:
                socket.disconnect()
        if self.ready_state != "closed" or self._reconnecting:
            self._close()
        self._skip_reconnect = True
        self._cleanup()
        return self.wait_closed_future()

    def wait_closed_future(self) -> asyncio.Future[None]:
        """A future that completes once every closing transport is released."""
        return asyncio.ensure_future(self._wait_closed())

    async def _wait_closed(self) -> None:
        while pending := [f for f in self._closing if not f.done()]:
            await asyncio.wait(pending)
