"""The Socket.IO server: namespaces over an Engine.IO server."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, Unpack, overload

from aiosio._handlers import Emitter, spawn
from aiosio.adapters.base import Adapter, RecoveryOptions, RecoveryOptionsDict
from aiosio.adapters.memory import InMemoryAdapter, SessionAwareAdapter
from aiosio.engine.hosting import (
    ASGIApplication,
    Fallback,
    Listener,
    asgi_host,
    embedded_host,
    webtransport_host,
)
from aiosio.engine.options import ENGINE_OPTION_NAMES, EngineOptionsDict, check_keywords
from aiosio.engine.server import EngineServer
from aiosio.protocol.socketio import DEFAULT_PARSER
from aiosio.routes import Routes
from aiosio.server.broadcast import Broadcasting, BroadcastOperator
from aiosio.server.client_files import ClientServingApp, find_client_dist
from aiosio.server.connection import Connection
from aiosio.server.namespace import NameMatcher, Namespace, NamespaceTable, ParentNamespace

if TYPE_CHECKING:
    from aiosio.adapters.base import AdapterNamespace
    from aiosio.engine.http import EngineApp
    from aiosio.engine.socket import EngineSocket
    from aiosio.protocol.socketio import Parser
    from aiosio.routes import Handler

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["Server"]

logger = logging.getLogger("aiosio.server")

AdapterFactory = Callable[["AdapterNamespace"], Adapter]

#: The keywords of ``Server()`` itself (the others are engine options).
_SERVER_OPTIONS = frozenset(
    {
        "path",
        "connect_timeout",
        "adapter",
        "parser",
        "connection_state_recovery",
        "cleanup_empty_child_namespaces",
        "max_child_namespaces",
        "serve_client",
        "sequential_handlers",
        "attachment_timeout",
    }
)


class Server(Broadcasting):
    """A Socket.IO server.

    ::

        io = aiosio.Server()

        @io.on("connection")
        async def on_connection(socket: aiosio.Socket) -> None:
            socket.emit("hello")

        port = await io.listen(3000)

    Options:

    * ``path``: URL prefix of the Engine.IO endpoint (``"/socket.io/"``).
    * ``connect_timeout``: seconds a connection may stay without joining a namespace (45).
    * ``adapter``: adapter class or factory ``fn(namespace) -> Adapter`` (default:
      :class:`~aiosio.adapters.memory.InMemoryAdapter`, or
      :class:`~aiosio.adapters.memory.SessionAwareAdapter` with connection state recovery).
    * ``parser``: the Socket.IO parser (``encoder()`` / ``decoder()``).
    * ``connection_state_recovery``: ``None`` (off), ``True``, a
      :class:`~aiosio.RecoveryOptions` or the same as a dict
      (``{"max_disconnection_duration": 120.0, "skip_middlewares": True}``).
    * ``cleanup_empty_child_namespaces`` (True): drop a child namespace of a dynamic (regex or
      predicate) parent when its last socket leaves, or when no socket could join it. The reference's
      ``cleanupEmptyChildNamespaces``, on by default here: otherwise every name a client tries stays.
    * ``max_child_namespaces`` (10,000): how many child namespaces clients may bring into existence
      at once; a CONNECT that would create one more is refused ("Invalid namespace", a warning).
    * ``serve_client``: serve the browser bundle at ``<path>socket.io.min.js`` (and the other
      ``client-dist`` files): ``True`` looks for ``node_modules/socket.io-client/dist`` above the
      working directory; a path names the directory.
    * ``sequential_handlers``: handle the events of each socket one at a time: the next event's
      middlewares and handlers start when every handler of the previous one has finished (by default
      each coroutine handler runs in its own Task as soon as its event arrives). The events of
      different sockets still run concurrently.
    * ``attachment_timeout``: seconds the binary attachments of a packet may take to arrive (30).
    * the engine options (:class:`~aiosio.engine.options.EngineOptionsDict`: ``ping_interval``,
      ``ping_timeout``, ``cors``, ``max_http_buffer_size``, ``transports``, ...) go to the
      :class:`~aiosio.engine.server.EngineServer` (``io.engine.options`` holds them, validated). A
      keyword that is neither a server nor an engine option raises ``TypeError`` naming the closest
      one, and a type checker reports it too.
    """

    def __init__(
        self,
        *,
        path: str = "/socket.io/",
        connect_timeout: float = 45.0,
        adapter: type[Adapter] | AdapterFactory | None = None,
        parser: Parser = DEFAULT_PARSER,
        connection_state_recovery: bool | RecoveryOptions | RecoveryOptionsDict | None = None,
        cleanup_empty_child_namespaces: bool = True,
        max_child_namespaces: int = 10_000,
        serve_client: bool | str | Path = False,
        sequential_handlers: bool = False,
        attachment_timeout: float = 30.0,
        **engine_options: Unpack[EngineOptionsDict],
    ) -> None:
        check_keywords("Server", engine_options, ENGINE_OPTION_NAMES | _SERVER_OPTIONS)
        if connect_timeout <= 0:
            raise ValueError("connect_timeout must be positive")
        if not path.endswith("/"):
            path += "/"
        if not path.startswith("/"):
            path = "/" + path
        self.connect_timeout = float(connect_timeout)
        self.attachment_timeout = float(attachment_timeout)
        self.recovery = RecoveryOptions.from_option(connection_state_recovery)
        self.cleanup_empty_child_namespaces = cleanup_empty_child_namespaces
        if max_child_namespaces < 0:
            raise ValueError("max_child_namespaces must not be negative")
        self.max_child_namespaces = int(max_child_namespaces)
        self.serve_client = serve_client
        self.sequential_handlers = sequential_handlers
        #: the event loop the server runs on: set by :meth:`start` (or when the server is created
        #: inside a running loop); calls from other threads are handed over to it
        self.loop: asyncio.AbstractEventLoop | None = None
        with contextlib.suppress(RuntimeError):
            self.loop = asyncio.get_running_loop()
        self._started: asyncio.Future[None] | None = None
        self.parser = parser
        self.encoder = parser.encoder()
        if adapter is None:
            adapter = SessionAwareAdapter if self.recovery is not None else InMemoryAdapter
        self.adapter_factory: AdapterFactory = adapter
        self._events_deferred: list[Awaitable[Any]] = []
        self._events = Emitter()
        self._nsps = NamespaceTable(partial(self._events.emit, "new_namespace"))
        self._parents: list[ParentNamespace] = []
        self._regex_parents: list[tuple[re.Pattern[str], ParentNamespace]] = []
        self._closing = False
        self._listener: Listener | None = None
        #: the HTTP/3 WebTransport host :meth:`listen` started, if asked to
        self.webtransport_server: Listener | None = None
        self._routes = Routes()
        #: the Engine.IO server
        self.engine = EngineServer(path=path, **engine_options)
        self.engine.on("connection", self._on_engine_connection)
        #: the main namespace, ``"/"``
        self.sockets: Namespace = self.of("/")

    def __repr__(self) -> str:
        return f"<Server path={self.engine.path!r} namespaces={list(self._nsps.as_dict())}>"

    @property
    def path(self) -> str:
        """The URL prefix of the Engine.IO endpoint."""
        return str(self.engine.path)

    # -- namespaces -------------------------------------------------------------------------------

    def of(
        self,
        name: str | re.Pattern[str] | NameMatcher,
        handler: Callable[..., Any] | None = None,
    ) -> Namespace:
        """The namespace ``name``, created if needed.

        ``name`` may also be a compiled regular expression or a predicate ``fn(name, auth) -> bool``
        (plain or coroutine): the result is a parent namespace that creates a child namespace for each
        name it accepts. ``handler``, if given, is registered for ``"connection"``.
        """
        if isinstance(name, re.Pattern) or callable(name):
            matcher: NameMatcher
            if isinstance(name, re.Pattern):
                pattern = name

                def matcher(candidate: str, auth: dict[str, Any]) -> bool:
                    return pattern.search(candidate) is not None

            else:
                matcher = name
            parent = ParentNamespace(self, matcher, self._nsps)
            self._parents.append(parent)
            if isinstance(name, re.Pattern):
                self._regex_parents.append((name, parent))
            if handler is not None:
                parent.on("connect", handler)
            return parent
        if not isinstance(name, str):
            raise TypeError("namespace name must be a str, a compiled regex or a callable")
        if not name.startswith("/"):
            name = "/" + name
        nsp = self._nsps.get(name)
        if nsp is None:
            for pattern, parent in self._regex_parents:
                if pattern.search(name) is not None:
                    return parent.create_child(name)
            nsp = Namespace(self, name)
            self._nsps.add(nsp)
        if handler is not None:
            nsp.on("connect", handler)
        return nsp

    async def resolve_namespace(self, name: str, auth: dict[str, Any]) -> Namespace | None:
        """The namespace a client asking to join ``name`` (with ``auth``) joins: the existing one,
        or a child the first dynamic parent that accepts the name creates; ``None`` when there is
        none (or ``max_child_namespaces`` are already there)."""
        existing = self._nsps.get(name)
        if existing is not None:
            return existing
        for parent in list(self._parents):
            try:
                allowed = parent.matcher(name, auth)
                if inspect.isawaitable(allowed):
                    allowed = await allowed
            except Exception:
                logger.exception("namespace predicate raised")
                continue
            if not allowed:
                continue
            existing = self._nsps.get(name)
            if existing is not None:  # created in the meantime
                return existing
            if self.child_namespace_count >= self.max_child_namespaces:
                logger.warning(
                    "refused to create child namespace %r: %d exist (max_child_namespaces)",
                    name[:100],
                    self.child_namespace_count,
                )
                return None
            return parent.create_child(name)
        return None

    @property
    def child_namespace_count(self) -> int:
        """How many child namespaces of dynamic parents exist now."""
        return sum(len(parent.children) for parent in self._parents)

    @property
    def namespaces(self) -> dict[str, Namespace]:
        """The concrete namespaces by name (a copy)."""
        return self._nsps.as_dict()

    # -- handlers ---------------------------------------------------------------------------------

    @overload
    def on(self, event: str, handler: F) -> F: ...
    @overload
    def on(self, event: str, handler: None = None) -> Callable[[F], F]: ...
    def on(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Register a handler: ``"connection"``/``"connect"`` (main namespace), ``"new_namespace"``,
        or a server-side event of the main namespace. Without ``handler``, return a decorator."""
        if event == "new_namespace":
            return self._events.on(event, handler)
        return self.sockets.on(event, handler)

    @overload
    def once(self, event: str, handler: F) -> F: ...
    @overload
    def once(self, event: str, handler: None = None) -> Callable[[F], F]: ...
    def once(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Like :meth:`on`, for one call only."""
        if event == "new_namespace":
            return self._events.once(event, handler)
        return self.sockets.once(event, handler)

    def off(self, event: str | None = None, handler: Callable[..., Any] | None = None) -> None:
        """Remove handlers (see :meth:`Namespace.off`)."""
        if event == "new_namespace":
            self._events.off(event, handler)
        else:
            self.sockets.off(event, handler)

    def use(self, fn: Callable[..., Any]) -> Any:
        """Add a connection middleware to the main namespace (see :meth:`Namespace.use`)."""
        return self.sockets.use(fn)

    # -- broadcasting on the main namespace -------------------------------------------------------

    def _operator(self) -> BroadcastOperator:
        return BroadcastOperator(self.sockets.adapter)

    def server_side_emit(self, event: str, *args: Any) -> None:
        """Send an event to the main namespace of the other servers of the cluster."""
        self.sockets.server_side_emit(event, *args)

    async def server_side_emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Like :meth:`server_side_emit`; return one answer per other server."""
        return await self.sockets.server_side_emit_with_ack(event, *args)

    # -- engine and hosting -----------------------------------------------------------------------

    def route(self, prefix: str, handler: Handler) -> None:
        """Serve plain HTTP requests under ``prefix`` with ``handler(request, respond)``.

        Both hosts try the routes before their fallback (the Admin UI and the metrics endpoint are
        served this way). Add routes before :meth:`listen` / :meth:`asgi_app`.
        """
        self._routes.add(prefix, handler)

    def _on_engine_connection(self, conn: EngineSocket) -> None:
        if self._closing:
            conn.close()
            return
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        logger.debug("incoming connection with id %s", conn.id)
        Connection(self, conn)

    def start_soon(self, awaitable: Awaitable[Any]) -> None:
        """Run ``awaitable`` as part of the start-up (a namespace's adapter joining its cluster):
        at once in a task when an event loop runs (and :meth:`start` waits for it if it has not
        run yet), otherwise when :meth:`start` runs. A failure is logged."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._events_deferred.append(awaitable)
            return
        task = spawn(_await_logged(awaitable))
        if self._started is None:
            # created on a running loop before start(): start() (and so listen()) waits for it,
            # so that the adapter has subscribed when the server says it is listening
            self._events_deferred.append(task)

    async def start(self) -> None:
        """Run the server's start-up: the adapters created before a loop ran subscribe, cluster
        heartbeats start. Idempotent; :meth:`listen` and the ASGI app's lifespan (or first request)
        call it, so it is rarely needed directly.
        """
        if self._started is not None:
            await asyncio.shield(self._started)
            return
        loop = asyncio.get_running_loop()
        self.loop = loop
        self._started = started = loop.create_future()
        try:
            deferred, self._events_deferred = self._events_deferred, []
            for awaitable in deferred:
                await awaitable
        except BaseException as exc:
            self._started = None
            started.set_exception(exc)
            started.exception()  # retrieved: whoever awaits it gets it raised
            raise
        started.set_result(None)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        """Start the server on entry and close it on exit: a framework's lifespan.

        ``Starlette(routes=[Mount("/ws", io.asgi_app())], lifespan=io.lifespan)``; FastAPI and
        Litestar take it the same way (``lifespan=io.lifespan``, ``lifespan=[io.lifespan]``).
        ``app`` is accepted and ignored, as frameworks pass theirs.
        """
        await self.start()
        try:
            yield
        finally:
            await self.close()

    def run_threadsafe(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        """Call ``fn(*args)`` on the server's loop from any thread; a future of its result.

        An awaitable result (a coroutine, or the future :meth:`Socket.emit_with_ack` returns) is
        awaited on the loop first::

            answer = io.run_threadsafe(socket.emit_with_ack, "question").result(timeout=5)

        Plain ``emit``, ``join``, ``leave`` and ``disconnect`` need no such wrapper: called from
        another thread they hand themselves over to the loop.
        """
        loop = self.loop
        if loop is None:
            raise RuntimeError("the server has not started: no event loop to run on")
        return asyncio.run_coroutine_threadsafe(_call_and_await(fn, args), loop)

    def engine_app(self) -> EngineApp:
        """What the hosts serve: the engine, in front of which ``serve_client`` puts the client
        bundle. :meth:`listen` and :meth:`asgi_app` use it; a custom host (like the one
        :mod:`aiosio.cluster` workers run) serves it too."""
        if self.serve_client is False:
            return self.engine
        dist = (
            find_client_dist()
            if self.serve_client is True
            else Path(self.serve_client)  # a directory holding the client bundle
        )
        if dist is None:
            logger.warning("serve_client: node_modules/socket.io-client/dist not found")
            return self.engine
        return ClientServingApp(self.engine, dist)

    async def listen(
        self,
        port: int = 3000,
        host: str = "127.0.0.1",
        *,
        fallback: Fallback | None = None,
        headers_timeout: float | None = None,
        keep_alive_timeout: float | None = None,
        request_timeout: float | None = None,
        webtransport: dict[str, Any] | None = None,
    ) -> int:
        """Serve on ``host:port`` with the embedded server; return the bound port (``port=0`` picks).

        Requests outside the Socket.IO path go to ``fallback(request, respond)`` (default: 404).
        The timeouts (seconds, Node's names and defaults; ``None`` keeps the default) are described
        in :func:`aiosio.serve.serve`.

        ``webtransport`` also starts the HTTP/3 WebTransport host (the ``webtransport`` extra; the
        ``transports`` option must name ``"webtransport"``): a dict of
        :func:`aiosio.webtransport.serve_webtransport` options, ``certfile`` and ``keyfile`` at least;
        ``port`` defaults to the HTTP port (UDP beside TCP, where the official client looks) and
        ``host`` to ``host``. It is then :attr:`webtransport_server`; :meth:`close` stops it.
        """
        if self._listener is not None:
            raise RuntimeError("the server is already listening")
        if webtransport is not None:
            if "webtransport" not in self.engine.transports:
                raise ValueError('webtransport needs "webtransport" in the transports option')
            serve_webtransport = webtransport_host()
        await self.start()
        if self._routes:
            fallback = self._routes.fallback(fallback)
        self._listener = await embedded_host()(
            self.engine_app(),
            host,
            port,
            fallback=fallback,
            headers_timeout=headers_timeout,
            keep_alive_timeout=keep_alive_timeout,
            request_timeout=request_timeout,
        )
        if webtransport is not None:
            options = dict(webtransport)
            wt_host = options.pop("host", host)
            wt_port = options.pop("port", self._listener.port)
            try:
                self.webtransport_server = await serve_webtransport(
                    self.engine, wt_host, wt_port, **options
                )
            except BaseException:
                listener, self._listener = self._listener, None
                await listener.close()
                raise
        return self._listener.port

    def asgi_app(self, fallback: Any = None) -> ASGIApplication:
        """An ASGI 3 application; requests outside the Socket.IO path go to ``fallback``.

        Its lifespan starts the server (:meth:`start`) and closes it (:meth:`close`); under a host
        that sends no lifespan events, the first request starts it. Mounted in a framework, pass
        :meth:`lifespan` to the framework. It is an :class:`aiosio.ASGIApp`.
        """
        if self._routes:
            fallback = self._routes.asgi(fallback)
        return asgi_host()(self.engine_app(), fallback, startup=self.start, shutdown=self.close)

    async def close(self) -> None:
        """Disconnect every socket ("server shutting down"), close the adapters, then the engine."""
        if self._closing:
            return
        self._closing = True
        for nsp in self._nsps:
            for socket in list(nsp.sockets.values()):
                socket.handle_close("server shutting down")
        for nsp in [*self._nsps, *self._parents]:
            try:
                result = nsp.adapter.close()
                if result is not None and inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("closing the adapter of %s failed", nsp.name)
        await self.engine.close()
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.close()
        webtransport, self.webtransport_server = self.webtransport_server, None
        if webtransport is not None:
            await webtransport.close()


async def _call_and_await(fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    result = fn(*args)
    if inspect.isawaitable(result):
        return await result
    return result


async def _await_logged(awaitable: Awaitable[Any]) -> None:
    try:
        await awaitable
    except Exception:
        logger.exception("adapter initialisation failed")
