"""Reference peer: python-socketio's AsyncServer as an ASGI app on uvicorn.

python psio_server.py --port 3000
"""

from __future__ import annotations

import argparse
from typing import Any

import socketio
from _uvicorn import add_uvicorn_args, serve_asgi


def build() -> Any:
    """Return the ASGI app with the benchmark handlers."""
    sio = socketio.AsyncServer(async_mode="asgi")

    @sio.on("echo")  # type: ignore[untyped-decorator]
    async def echo(sid: str, *args: Any) -> None:
        await sio.emit("echo", args[0] if len(args) == 1 else args, to=sid)

    @sio.on("echo_ack")  # type: ignore[untyped-decorator]
    async def echo_ack(sid: str, *args: Any) -> Any:
        return args[0] if len(args) == 1 else args

    @sio.on("bcast")  # type: ignore[untyped-decorator]
    async def bcast(sid: str, *args: Any) -> None:
        await sio.emit("bcast", args[0] if len(args) == 1 else args)

    return socketio.ASGIApp(sio)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    add_uvicorn_args(parser)
    args = parser.parse_args()
    serve_asgi(build(), args)


if __name__ == "__main__":
    main()
