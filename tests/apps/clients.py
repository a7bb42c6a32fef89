"""One face for the two real clients the app tests drive: the official Node socket.io-client and
python-socketio's AsyncClient. A test runs the same steps with either and compares exact values.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

import socketio

from tests.server.node import NodeClients

__all__ = ["AppClient", "NodeAppClient", "PythonAppClient", "RefusedError"]

WAIT = 10.0
_ids = itertools.count()


class RefusedError(Exception):
    """The server refused the connection with ``message`` and ``data``."""

    def __init__(self, message: str, data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class AppClient:
    """What the tests need from a client."""

    kind = ""

    async def connect(self, url: str, token: str, transports: list[str] | None = None) -> None:
        raise NotImplementedError

    async def call(self, event: str, *args: Any) -> Any:
        """Emit with an acknowledgement; the single answer (a list when there are several)."""
        raise NotImplementedError

    async def emit(self, event: str, *args: Any) -> None:
        raise NotImplementedError

    async def next(self, name: str) -> list[Any]:
        """The arguments of the next ``name`` event not yet taken."""
        raise NotImplementedError

    async def disconnect(self) -> None:
        raise NotImplementedError


class NodeAppClient(AppClient):
    """One socket of the official socket.io-client, in a Node process shared by a test."""

    kind = "node"

    def __init__(self, node: NodeClients) -> None:
        self.node = node
        self.cid = f"n{next(_ids)}"

    async def connect(self, url: str, token: str, transports: list[str] | None = None) -> None:
        options: dict[str, Any] = {"auth": {"token": token}}
        if transports is not None:
            options["transports"] = transports
        event = await self.node.connect(self.cid, url, **options)
        if event["ev"] == "connect_error":
            raise RefusedError(event["message"], event["data"])

    async def call(self, event: str, *args: Any) -> Any:
        tag = f"{self.cid}-{next(_ids)}"
        self.node.send(cmd="emit", id=self.cid, event=event, args=list(args), ack=True, tag=tag)
        answer = await self.node.expect(lambda e: e["ev"] == "ack" and e.get("tag") == tag)
        values = list(answer["args"])
        return values[0] if len(values) == 1 else values

    async def emit(self, event: str, *args: Any) -> None:
        self.node.send(cmd="emit", id=self.cid, event=event, args=list(args))

    async def next(self, name: str) -> list[Any]:
        event = await self.node.next(self.cid, "event", name=name)
        return list(event["args"])

    async def disconnect(self) -> None:
        self.node.send(cmd="disconnect", id=self.cid)


class PythonAppClient(AppClient):
    """python-socketio's AsyncClient."""

    kind = "python"

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, list[Any]]] = []
        self._changed = asyncio.Event()
        self._refusal: Any = None
        self.sio.on("*", self._on_any)
        self.sio.on("connect_error", self._on_connect_error)

    async def _on_any(self, event: str, *args: Any) -> None:
        self.events.append((event, list(args)))
        self._changed.set()

    async def _on_connect_error(self, data: Any) -> None:
        self._refusal = data

    async def connect(self, url: str, token: str, transports: list[str] | None = None) -> None:
        try:
            await self.sio.connect(
                url, auth={"token": token}, transports=transports, wait_timeout=WAIT
            )
        except socketio.exceptions.ConnectionError:
            refusal = self._refusal
            if not isinstance(refusal, dict):
                raise
            raise RefusedError(refusal["message"], refusal.get("data")) from None

    async def call(self, event: str, *args: Any) -> Any:
        data: Any = args[0] if len(args) == 1 else (tuple(args) if args else None)
        answer = await self.sio.call(event, data, timeout=WAIT)
        return list(answer) if isinstance(answer, tuple) else answer

    async def emit(self, event: str, *args: Any) -> None:
        data: Any = args[0] if len(args) == 1 else (tuple(args) if args else None)
        await self.sio.emit(event, data)

    async def next(self, name: str) -> list[Any]:
        async with asyncio.timeout(WAIT):
            while True:
                for index, (event, args) in enumerate(self.events):
                    if event == name:
                        del self.events[index]
                        return args
                self._changed.clear()
                await self._changed.wait()

    async def disconnect(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()
