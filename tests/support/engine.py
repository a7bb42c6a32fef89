"""An Engine.IO server under test, seen the same way whether it is aiosio or the Node reference.

``kind`` is "embedded" (aiosio's own HTTP server), "asgi" (aiosio's ASGI app under uvicorn) or
"reference" (the official engine.io server in Node, to check that the expectations themselves are
right). Server-side events land in ``log`` as dicts:

* ``{"event": "connection", "sid", "transport"}``
* ``{"event": "message", "sid", "data"}`` (``str`` or ``bytes``)
* ``{"event": "upgrade", "sid", "transport"}``
* ``{"event": "close", "sid", "reason"}``
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from tests.support.events import Event, EventLog
from tests.support.hosts import RunningHost, start_host
from tests.support.node import NodeProcess, decode_data, encode_data

__all__ = ["ENGINE_PATH", "EngineUnderTest", "start_engine"]

ENGINE_PATH = "/engine.io/"

#: Options every backend understands (seconds, Python names); anything else goes to aiosio only.
_REFERENCE_NAMES = {
    "ping_interval": "pingInterval",
    "ping_timeout": "pingTimeout",
    "upgrade_timeout": "upgradeTimeout",
    "max_http_buffer_size": "maxHttpBufferSize",
    "transports": "transports",
    "allow_upgrades": "allowUpgrades",
    "initial_packet": "initialPacket",
    "cookie": "cookie",
    "allow_eio3": "allowEIO3",
    "http_compression": "httpCompression",
    "per_message_deflate": "perMessageDeflate",
}
_SECONDS = {"ping_interval", "ping_timeout", "upgrade_timeout"}


class EngineUnderTest:
    """A running Engine.IO server and the controls a test needs from the server side."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.log = EventLog()
        self.port = 0
        self.engine: Any = None  # the aiosio EngineServer (in-process kinds only)
        self._host: RunningHost | None = None
        self._node: NodeProcess | None = None

    @property
    def is_reference(self) -> bool:
        """True for the Node reference server."""
        return self.kind == "reference"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, scheme: str = "http", **query: str) -> str:
        """The engine endpoint with ``query`` (``EIO=4`` is not added: pass it)."""
        suffix = f"?{urlencode(query)}" if query else ""
        return f"{scheme}://127.0.0.1:{self.port}{ENGINE_PATH}{suffix}"

    def polling_url(self, sid: str | None = None, **query: str) -> str:
        """A polling URL with ``EIO=4&transport=polling`` and the sid if given."""
        if sid is not None:
            query["sid"] = sid
        return self.url(EIO="4", transport="polling", **query)

    def websocket_url(self, sid: str | None = None, **query: str) -> str:
        """A ``ws://`` URL with ``EIO=4&transport=websocket`` and the sid if given."""
        if sid is not None:
            query["sid"] = sid
        return self.url("ws", EIO="4", transport="websocket", **query)

    async def expect(self, predicate: Callable[[Event], bool], timeout: float = 5.0) -> Event:  # noqa: ASYNC109 (the documented test API)
        """Wait for a server-side event."""
        return await self.log.expect(predicate, timeout)

    async def expect_event(self, name: str, timeout: float = 5.0, **fields: Any) -> Event:  # noqa: ASYNC109 (the documented test API)
        """Wait for a server-side event called ``name`` with the given fields."""
        return await self.log.expect_event(name, timeout, **fields)

    async def send(self, sid: str, data: str | bytes) -> None:
        """Send a message from the server to session ``sid``."""
        if self._node is not None:
            await self._node.send("send", sid=sid, data=encode_data(data))
        else:
            self.engine.clients[sid].send(data)

    async def close_socket(self, sid: str) -> None:
        """Close session ``sid`` from the server side."""
        if self._node is not None:
            await self._node.send("close", sid=sid)
        else:
            socket = self.engine.clients.get(sid)
            if socket is not None:
                socket.close()

    async def session_ids(self) -> list[str]:
        """The sids the server currently holds."""
        if self._node is not None:
            await self._node.send("clients")
            event = await self._node.expect_event("clients")
            return list(event["sids"])
        return list(self.engine.clients)

    async def close(self) -> None:
        """Stop the server (closing every session) and release everything."""
        if self._host is not None:
            await self._host.close()
        if self._node is not None:
            node, self._node = self._node, None
            if node.returncode is None and not node.stopped:
                # An orderly shutdown first, so the close events still reach the log.
                with contextlib.suppress(Exception):
                    await node.send("shutdown")
                    await node.wait(timeout=2.0)
            await node.stop()

    # -- backends ------------------------------------------------------------------------------

    async def _start_aiosio(self, options: dict[str, Any]) -> None:
        from aiosio.engine.server import EngineServer

        options = dict(options)
        refuse = options.pop("refuse", None)
        if refuse is not None:
            options["allow_request"] = _refusing_hook(refuse)
        eng = EngineServer(**options)
        log = self.log

        def on_connection(socket: Any) -> None:
            sid = socket.id
            log.push({"event": "connection", "sid": sid, "transport": socket.transport})

            def on_message(data: str | bytes) -> None:
                log.push({"event": "message", "sid": sid, "data": data})

            def on_upgrade(transport: Any) -> None:
                name = transport if isinstance(transport, str) else socket.transport
                log.push({"event": "upgrade", "sid": sid, "transport": name})

            def on_close(reason: str, description: Any = None) -> None:
                log.push({"event": "close", "sid": sid, "reason": str(reason)})

            socket.on("message", on_message)
            socket.on("upgrade", on_upgrade)
            socket.on("close", on_close)

        eng.on("connection", on_connection)
        self.engine = eng
        self._host = await start_host(self.kind, eng)
        self.port = self._host.port

    async def _start_reference(self, options: dict[str, Any]) -> None:
        config: dict[str, Any] = {}
        for name, value in options.items():
            if name == "refuse":
                config["refuse"] = value
            elif name == "cors":
                if value == "*":
                    config["cors"] = {"origin": "*"}
                elif isinstance(value, list):
                    config["corsOrigins"] = value
                else:
                    raise ValueError(f"the reference backend cannot express cors={value!r}")
            elif name in _SECONDS:
                config[_REFERENCE_NAMES[name]] = round(value * 1000)
            elif name == "transports":
                config["transports"] = list(value)
            elif name in _REFERENCE_NAMES:
                config[_REFERENCE_NAMES[name]] = value
            else:
                raise ValueError(f"the reference backend does not know option {name!r}")
        node = await NodeProcess.start("eio_server", json.dumps(config))
        self._node = node
        try:
            listening = await node.expect_event("listening")
        except BaseException:
            await node.stop()
            raise
        self.port = int(listening["port"])
        node.log.listeners.append(self._relay)

    def _relay(self, event: Event) -> None:
        if event.get("event") in ("connection", "message", "upgrade", "close"):
            copy = {k: v for k, v in event.items() if k not in ("kind", "description")}
            if "data" in copy:
                copy["data"] = decode_data(copy["data"])
            self.log.push(copy)


def _refusing_hook(message: str) -> Callable[[Any], Any]:
    from aiosio import RequestRefused

    async def allow_request(request: Any) -> None:
        raise RequestRefused(message)

    return allow_request


async def start_engine(kind: str, **options: Any) -> EngineUnderTest:
    """Start an Engine.IO server of ``kind`` with aiosio-style ``options``.

    ``refuse="msg"`` installs an ``allow_request`` hook that refuses every handshake with ``msg``.
    """
    under_test = EngineUnderTest(kind)
    if kind == "reference":
        await under_test._start_reference(options)
    else:
        await under_test._start_aiosio(options)
    return under_test
