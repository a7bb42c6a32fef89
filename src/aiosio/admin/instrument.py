"""``instrument(io, ...)``: the server side of the Socket.IO Admin UI (``@socket.io/admin-ui``).

It behaves as the reference's ``instrument()``: an admin namespace (``/admin``) guarded by basic
authentication; every two seconds a ``server_stats`` event (server id, hostname, pid, uptime, clients,
polling clients, namespaces and their socket counts, and the counts of the last seconds); the actions
``emit``, ``join``, ``leave`` and ``_disconnect`` (each on one socket or on a room, the multi-socket
forms); and in development mode ``all_sockets`` on connect and the live ``socket_connected``,
``socket_updated``, ``socket_disconnected``, ``room_joined``, ``room_left``, ``event_received`` and
``event_sent`` events. Every event reaches the admin clients through the admin namespace's adapter,
so with a cluster adapter (Redis, ...) each node's stats and sockets reach a UI connected to any node,
and ``all_sockets`` comes from ``fetch_sockets()`` across the cluster.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket as _net
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from aiosio.admin.auth import BasicAuth, InMemoryStore, SessionStore, new_session_id
from aiosio.admin.serialize import (
    ADMIN_KEY,
    EventBuffer,
    js_now,
    serialize_data,
    serialize_socket,
)
from aiosio.admin.ui import UIFiles, find_ui_dist
from aiosio.exceptions import ConnectRefusedError

if TYPE_CHECKING:
    from aiosio.engine.socket import EngineSocket
    from aiosio.server.namespace import Namespace
    from aiosio.server.server import Server
    from aiosio.server.socket import Socket

__all__ = ["STATS_INTERVAL", "Admin", "instrument"]

logger = logging.getLogger("aiosio.admin")

#: Seconds between two ``server_stats`` events (the reference's value).
STATS_INTERVAL = 2.0

_BASE_FEATURES = ("EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT")


def _byte_length(data: str | bytes) -> int:
    if type(data) is str:
        return len(data) if data.isascii() else len(data.encode())
    return len(data)


class Admin:
    """What :func:`instrument` set up; :meth:`close` stops the stats timer."""

    def __init__(
        self,
        io: Server,
        *,
        auth: BasicAuth | None,
        mode: Literal["development", "production"],
        read_only: bool,
        namespace_name: str,
        server_id: str | None,
        store: SessionStore,
        stats_interval: float,
    ) -> None:
        self.io = io
        self.auth = auth
        self.mode = mode
        self.read_only = read_only
        self.store = store
        self.stats_interval = stats_interval
        self.started = time.monotonic()
        self.hostname = _net.gethostname()
        self.server_id = server_id or self.hostname
        self.events = EventBuffer()
        self.polling_clients = 0
        features = [] if read_only else list(_BASE_FEATURES)
        features.append("AGGREGATED_EVENTS")
        if mode == "development":
            features.append("ALL_EVENTS")
        #: the features announced to the UI in the ``config`` event
        self.supported_features = features
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        #: the admin namespace
        self.nsp: Namespace = io.of(namespace_name)
        self.nsp.use(self._authenticate)
        self.nsp.on("connection", self._on_admin_connection)
        io.engine.on("connection", self._on_engine_connection)
        if mode == "development":
            for nsp in io.namespaces.values():
                self._watch(nsp)
            io.on("new_namespace", self._watch)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            logger.debug("no running loop yet: stats start with the first connection")
        else:
            self.start()

    # -- stats ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start sending ``server_stats`` (done at once when a loop runs; idempotent)."""
        if self._timer is None and not self._closed:
            self._emit_stats()

    def close(self) -> None:
        """Stop sending stats."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def stats(self) -> dict[str, Any]:
        """This node's ``server_stats`` payload (and clear the aggregated counts)."""
        return {
            "serverId": self.server_id,
            "hostname": self.hostname,
            "pid": os.getpid(),
            "uptime": round(time.monotonic() - self.started, 3),
            "clientsCount": self.io.engine.clients_count,
            "pollingClientsCount": self.polling_clients,
            "aggregatedEvents": self.events.take(),
            "namespaces": [
                {"name": nsp.name, "socketsCount": len(nsp.sockets)}
                for nsp in self.io.namespaces.values()
            ],
        }

    def _emit_stats(self) -> None:
        self._timer = None
        if self._closed:
            return
        try:
            self.nsp.emit("server_stats", self.stats())
        except Exception:
            logger.exception("sending the admin stats failed")
        self._timer = asyncio.get_running_loop().call_later(self.stats_interval, self._emit_stats)

    # -- engine: aggregated counts ----------------------------------------------------------------

    def _on_engine_connection(self, conn: EngineSocket) -> None:
        self.start()
        events = self.events
        events.push("rawConnection")
        if conn.transport == "polling":
            self.polling_clients += 1
            counted = [True]

            def uncount(*_: Any) -> None:
                if counted[0]:
                    counted[0] = False
                    self.polling_clients -= 1

            conn.on("upgrade", uncount)
            conn.on("close", uncount)

        def on_message(data: str | bytes) -> None:
            events.push("packetsIn")
            events.push("bytesIn", None, _byte_length(data))

        def on_send(data: str | bytes) -> None:
            events.push("packetsOut")
            events.push("bytesOut", None, _byte_length(data))

        def on_close(reason: str, description: Any = None) -> None:
            events.push("rawDisconnection", reason)

        conn.on("receive", on_message)
        conn.on("send", on_send)
        conn.on("close", on_close)

    # -- the admin namespace ----------------------------------------------------------------------

    async def _authenticate(self, socket: Socket) -> None:
        auth = self.auth
        if auth is None:
            return
        given = socket.handshake.auth
        session_id = given.get("sessionId")
        if isinstance(session_id, str) and await self.store.does_session_exist(session_id):
            logger.debug("admin: authenticated with a session id")
            return
        if await auth.check(given.get("username"), given.get("password")):
            session_id = new_session_id()
            await self.store.save_session(session_id)
            socket.emit("session", session_id)
            logger.debug("admin: authenticated with credentials")
            return
        logger.info("admin: invalid credentials from %s", socket.handshake.address)
        raise ConnectRefusedError("invalid credentials")

    async def _on_admin_connection(self, socket: Socket) -> None:
        features = self.supported_features
        if "EMIT" in features:
            socket.on("emit", self._do_emit)
            socket.on("join", self._do_join)
            socket.on("leave", self._do_leave)
            socket.on("_disconnect", self._do_disconnect)
        socket.emit("config", {"supportedFeatures": list(features)})
        if self.mode == "development":
            socket.emit("all_sockets", await self.all_sockets())

    async def all_sockets(self) -> list[dict[str, Any]]:
        """Every socket of every namespace, on every node (``fetch_sockets``), serialized."""
        namespaces = list(self.io.namespaces.values())
        found = await asyncio.gather(*(nsp.fetch_sockets() for nsp in namespaces))
        return [
            serialize_socket(socket, nsp.name)
            for nsp, sockets in zip(namespaces, found, strict=True)
            for socket in sockets
        ]

    def _target(self, nsp: Any, room: Any) -> Any:
        """The namespace (or its room) an action names, or ``None`` (logged) when there is none."""
        target = self.io.namespaces.get(nsp) if isinstance(nsp, str) else None
        if target is None:
            logger.info("admin: action on unknown namespace %r ignored", nsp)
            return None
        return target.in_(room) if isinstance(room, str) and room else target

    def _do_emit(self, nsp: Any, room: Any, event: Any = None, *args: Any) -> None:
        logger.debug("admin: emit %r to namespace %r, room %r", event, nsp, room)
        target = self._target(nsp, room)
        if target is not None and isinstance(event, str):
            target.emit(event, *args)

    def _do_join(self, nsp: Any, room: Any, where: Any = None) -> None:
        logger.debug("admin: sockets of %r in %r join %r", nsp, where, room)
        target = self._target(nsp, where)
        if target is not None and isinstance(room, str):
            target.sockets_join(room)

    def _do_leave(self, nsp: Any, room: Any, where: Any = None) -> None:
        logger.debug("admin: sockets of %r in %r leave %r", nsp, where, room)
        target = self._target(nsp, where)
        if target is not None and isinstance(room, str):
            target.sockets_leave(room)

    def _do_disconnect(self, nsp: Any, close: Any = False, where: Any = None) -> None:
        logger.debug("admin: disconnect sockets of %r in %r (close=%s)", nsp, where, close)
        target = self._target(nsp, where)
        if target is not None:
            target.disconnect_sockets(bool(close))

    # -- development mode: live socket events -----------------------------------------------------

    def _watch(self, nsp: Namespace) -> None:
        admin = self.nsp
        name = nsp.name

        def on_connection(socket: Socket) -> None:
            conn = socket.conn
            if isinstance(socket.data, dict):
                client_id = conn.id[:12]  # the whole Engine.IO id is a secret
                socket.data[ADMIN_KEY] = {"clientId": client_id, "transport": conn.transport}
            admin.emit("socket_connected", serialize_socket(socket, name), js_now())

            def on_upgrade(transport: str) -> None:
                if isinstance(socket.data, dict) and isinstance(socket.data.get(ADMIN_KEY), dict):
                    socket.data[ADMIN_KEY]["transport"] = transport
                update = {"id": socket.id, "nsp": name, "transport": transport}
                admin.emit("socket_updated", update)

            conn.on("upgrade", on_upgrade)
            if nsp is not admin:

                def on_any(*args: Any) -> None:
                    admin.emit("event_received", name, socket.id, list(args), js_now())

                def on_any_outgoing(*args: Any) -> None:
                    admin.emit("event_sent", name, socket.id, list(args), js_now())

                socket.on_any(on_any)
                socket.on_any_outgoing(on_any_outgoing)

            def on_disconnect(reason: str, description: Any = None) -> None:
                admin.emit("socket_disconnected", name, socket.id, reason, js_now())

            socket.on("disconnect", on_disconnect)

        def on_join(room: str, sid: str) -> None:
            admin.emit("room_joined", name, room, sid, js_now())

        def on_leave(room: str, sid: str) -> None:
            # after the current step, as the reference does (the socket may be disconnecting)
            asyncio.get_running_loop().call_soon(admin.emit, "room_left", name, room, sid, js_now())

        nsp.on("connection", on_connection)
        nsp.adapter.on("join-room", on_join)
        nsp.adapter.on("leave-room", on_leave)

    def socket_updated(self, socket: Socket) -> None:
        """Tell the UI that ``socket.data`` changed (the reference notices it by itself)."""
        self.nsp.emit(
            "socket_updated",
            {"id": socket.id, "nsp": socket.nsp.name, "data": serialize_data(socket.data)},
        )


def instrument(
    io: Server,
    *,
    auth: Mapping[str, Any] | Literal[False] | None = None,
    mode: Literal["development", "production"] = "development",
    read_only: bool = False,
    namespace_name: str = "/admin",
    server_id: str | None = None,
    store: SessionStore | None = None,
    serve_ui: bool | str | Path = False,
    ui_path: str = "/admin/",
    stats_interval: float = STATS_INTERVAL,
) -> Admin:
    """Make ``io`` visible to the Socket.IO Admin UI, as the reference's ``instrument()`` does.

    * ``auth``: ``{"username": ..., "password": ...}`` where the password is a bcrypt hash (as the
      reference requires; needs ``aiosio[admin]``) or plain text; or ``False`` to allow anyone. It
      must be given (``None`` raises), as in the reference.
    * ``mode``: ``"development"`` (every socket and event is reported) or ``"production"`` (stats and
      aggregated counts only, which is much cheaper).
    * ``read_only``: no actions from the UI (emit, join, leave, disconnect).
    * ``namespace_name``: the admin namespace (``"/admin"``).
    * ``server_id``: this node's name in the UI (default: the host name).
    * ``store``: where authenticated session ids are kept (default: in memory).
    * ``serve_ui``: serve the UI's static files at ``ui_path`` on this server's hosts: ``True`` looks
      for ``node_modules/@socket.io/admin-ui/ui/dist`` above the working directory, a path names the
      directory. The hosted UI (admin.socket.io) works as well when ``cors`` allows its origin.
    """
    if auth is None:
        raise ValueError("the `auth` option must be specified or explicitly set to False")
    if mode not in ("development", "production"):
        raise ValueError("mode is 'development' or 'production'")
    if stats_interval <= 0:
        raise ValueError("stats_interval must be positive")
    basic = None if auth is False else BasicAuth.from_option(auth)
    if basic is None:
        logger.warning("admin: authentication is disabled, please use with caution")
    admin = Admin(
        io,
        auth=basic,
        mode=mode,
        read_only=read_only,
        namespace_name=namespace_name,
        server_id=server_id,
        store=store if store is not None else InMemoryStore(),
        stats_interval=stats_interval,
    )
    if serve_ui is not False:
        dist = find_ui_dist() if serve_ui is True else Path(serve_ui)
        if dist is None or not (dist / "index.html").is_file():
            raise FileNotFoundError(
                "the Admin UI files were not found: npm install @socket.io/admin-ui "
                "(or give serve_ui the path of its ui/dist directory)"
            )
        if not ui_path.endswith("/"):
            ui_path += "/"
        io.route(ui_path.rstrip("/") or "/", UIFiles(dist, ui_path, io.path))
    return admin
