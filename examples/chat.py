"""The demo: a chat with a presence list, a live chart of messages per second and binary file sharing.

Run ``python -m examples.chat --host 127.0.0.1 --port 3000`` (or ``make run``) and open the page in two
browser windows. The same server shows itself in the Socket.IO Admin UI at ``/admin/`` (user
``admin``, the password printed at start, or ``$AIOSIO_ADMIN_PASSWORD``) and its Prometheus metrics at
``/metrics`` when ``prometheus_client`` is installed. The browser client and the Admin UI come from
``node_modules`` (``npm install``, which ``make run`` does).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiosio.admin import instrument
from aiosio.admin.ui import find_ui_dist
from aiosio.engine.http import Request, Response
from aiosio.serve import run, wait_for_shutdown_signal
from aiosio.server import Server, Socket
from aiosio.server.client_files import find_client_dist

logger = logging.getLogger("examples.chat")

PAGE = (Path(__file__).parent / "chat.html").read_bytes()
#: Largest file a client may share (the Engine.IO default limit is 1 MB per message).
MAX_FILE = 512 * 1024
ROOM = "lobby"


class Chat:
    """The chat's state: who is here and how many messages arrived in the current second."""

    def __init__(self, io: Server) -> None:
        self.io = io
        self.count = 0
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Send the message rate every second (from the first connection on)."""
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(1.0, self._tick)

    def stop(self) -> None:
        """Stop the rate timer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        count, self.count = self.count, 0
        if not self.io.sockets.sockets:  # nobody to tell: sleep until the next connection
            self._timer = None
            return
        self.io.to(ROOM).emit("rate", count)
        self._timer = asyncio.get_running_loop().call_later(1.0, self._tick)

    def presence(self) -> list[dict[str, str]]:
        """Everyone in the chat, in joining order."""
        return [
            {"id": socket.id, "name": socket.data["name"]}
            for socket in self.io.sockets.sockets.values()
            if "name" in socket.data
        ]


def _name(value: Any) -> str:
    text = value.strip()[:24] if isinstance(value, str) else ""
    return text or "guest-" + secrets.token_hex(2)


def make_server(admin_password: str | None = None) -> Server:
    """The chat server; ``admin_password`` protects its Admin UI (user ``admin``)."""
    io = Server(serve_client=find_client_dist() is not None, max_http_buffer_size=MAX_FILE + 4096)
    chat = Chat(io)

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        chat.start()
        socket.data["name"] = _name(socket.handshake.auth.get("name"))
        socket.join(ROOM)
        io.to(ROOM).emit("presence", chat.presence())

        @socket.on("chat")
        def on_chat(text: Any) -> str:
            chat.count += 1
            io.to(ROOM).emit("chat", socket.data["name"], str(text)[:500])
            return "ok"

        @socket.on("rename")
        def on_rename(name: Any) -> str:
            socket.data["name"] = _name(name)
            io.to(ROOM).emit("presence", chat.presence())
            return str(socket.data["name"])

        @socket.on("file")
        def on_file(name: Any, kind: Any, content: Any) -> int:
            if not isinstance(content, bytes) or len(content) > MAX_FILE:
                raise ValueError("a file is one binary attachment of at most 512 KiB")
            info = {"name": str(name)[:100], "type": str(kind)[:100], "size": len(content)}
            socket.to(ROOM).emit("file", socket.data["name"], info, content)
            return len(content)

        @socket.on("disconnect")
        def on_disconnect(reason: str) -> None:
            logger.info("%s left: %s", socket.data["name"], reason)
            io.to(ROOM).emit("presence", chat.presence())

    if find_ui_dist() is not None:
        password = admin_password or secrets.token_urlsafe(9)
        instrument(io, auth={"username": "admin", "password": password}, serve_ui=True)
        if admin_password is None:
            print(f"Admin UI: user admin, password {password}", flush=True)
    try:
        from prometheus_client import CollectorRegistry
    except ImportError:  # pragma: no cover - prometheus_client is an optional extra
        pass
    else:
        from aiosio.metrics import Metrics

        io.route("/metrics", Metrics(io, registry=CollectorRegistry()).handler)
    return io


def page(request: Request, respond: Callable[[Response], None]) -> None:
    """Everything outside the routes: the page at ``/``, 404 elsewhere."""
    if request.path == "/":
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-cache")]
        respond(Response(200, headers, PAGE))
    else:
        respond(Response(404, [("Content-Type", "text/plain")], b"not found"))


async def main(host: str, port: int) -> None:
    io = make_server(os.environ.get("AIOSIO_ADMIN_PASSWORD"))
    bound = await io.listen(port, host, fallback=page)
    io_page = f"http://{host}:{bound}/"
    print(f"chat on {io_page} (Ctrl+C to stop); Admin UI on {io_page}admin/", flush=True)
    received = await wait_for_shutdown_signal()
    print(f"{received.name}: shutting down", flush=True)
    await io.close()


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    args: Any = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    run(main(args.host, args.port))


if __name__ == "__main__":
    cli()
