"""A module-level app, deployed the way users deploy one: ``python -m uvicorn tests.server.module_app:app``.

The server is created at import time, before any event loop runs; the ASGI lifespan starts it.
"""

from __future__ import annotations

import asyncio

import aiosio

io = aiosio.Server(cors="*")


@io.on("connection")
async def on_connection(socket: aiosio.Socket) -> None:
    await asyncio.sleep(0)  # an async handler doing awaited work before it registers its own
    socket.join("lobby")

    @socket.on("echo")
    async def echo(*args: object) -> tuple[object, ...]:
        await asyncio.sleep(0.001)
        return ("echoed", *args)

    @socket.on("chat")
    async def chat(text: str) -> str:
        socket.to("lobby").emit("chat", text)
        return "ok"

    socket.emit("welcome", socket.id)


app = io.asgi_app()
