"""One uvicorn configuration shared by every ASGI server in the benchmark."""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn


def add_uvicorn_args(parser: argparse.ArgumentParser) -> None:
    """Add the uvicorn implementation choices (defaults: what uvicorn's "auto" picks here)."""
    parser.add_argument("--loop", default="uvloop")
    parser.add_argument("--http", default="httptools")
    parser.add_argument("--ws", default="websockets-sansio")


def serve_asgi(app: Any, args: argparse.Namespace) -> None:
    """Serve ``app`` on ``args.host:args.port`` until SIGTERM/SIGINT."""
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        loop=args.loop,
        http=args.http,
        ws=args.ws,
        ws_per_message_deflate=False,
        lifespan="off",
        log_level="warning",
        access_log=False,
        backlog=4096,
        timeout_graceful_shutdown=1,
    )
    uvicorn.Server(config).run()
