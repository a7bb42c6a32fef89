"""A Socket.IO application written the way users write them, for the application-shaped tests.

A module-level server with a Redis (or PostgreSQL) adapter and a module-level ASGI app, served by any
ASGI server (``uvicorn tests.apps.realapp:app``) or embedded (``python -m tests.apps.realapp --port N``).
Configured by the environment:

* ``REALAPP_REDIS``: Redis URL (the Redis adapter and the handlers' data);
* ``REALAPP_KEY``: the adapter's channel prefix, also the prefix of every Redis key the app writes;
* ``REALAPP_PG``: a PostgreSQL DSN for asyncpg (the handlers, and the PostgreSQL adapter);
* ``REALAPP_ADAPTER``: ``redis`` (the default) or ``postgres``;
* ``REALAPP_HTTP``: the base URL of an HTTP service answering ``GET /echo?text=...`` with the text;
* ``REALAPP_NODE``: this process's name in answers (default ``pid<pid>``).

Every handler is ``async def`` and does real I/O; answers are plain values a test can compare exactly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import os
import threading
import time
from typing import Any

import aiohttp
import asyncpg
import httpx
import redis.asyncio

import aiosio
from aiosio import ConnectRefusedError
from aiosio.adapters import postgres
from aiosio.adapters import redis as redis_adapter
from aiosio.serve import run, wait_for_shutdown_signal
from aiosio.server.server import AdapterFactory

KEY = os.environ["REALAPP_KEY"]
PG_DSN = os.environ["REALAPP_PG"]
HTTP_URL = os.environ["REALAPP_HTTP"]
NODE = os.environ.get("REALAPP_NODE") or f"pid{os.getpid()}"
#: Seconds a plain ``connect`` hook blocks the loop (a synchronous audit log, a CPU-bound check).
SLOW_CONNECT = float(os.environ.get("REALAPP_SLOW_CONNECT", "0"))

db = redis.asyncio.Redis.from_url(os.environ["REALAPP_REDIS"], decode_responses=True)
adapter: AdapterFactory
if os.environ.get("REALAPP_ADAPTER", "redis") == "postgres":
    adapter = postgres.create_adapter(PG_DSN, channel_prefix=KEY, requests_timeout=3.0)
else:
    adapter = redis_adapter.create_adapter(
        redis.asyncio.Redis.from_url(os.environ["REALAPP_REDIS"]), key=KEY, requests_timeout=3.0
    )
io = aiosio.Server(adapter=adapter, ping_interval=5.0, ping_timeout=10.0)
app = io.asgi_app()

#: Set per event by the handlers, the way tracing and logging libraries use contextvars.
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


async def http_text(text: str) -> dict[str, str]:
    """The HTTP service's echo of ``text``, once through aiohttp and once through httpx."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{HTTP_URL}/echo", params={"text": text}) as response,
    ):
        via_aiohttp = await response.text()
    async with httpx.AsyncClient() as client:
        via_httpx = (await client.get(f"{HTTP_URL}/echo", params={"text": text})).text
    return {"aiohttp": via_aiohttp, "httpx": via_httpx}


async def pg_double(n: int) -> int:
    """``n * 2`` computed by PostgreSQL through asyncpg."""
    conn = await asyncpg.connect(PG_DSN)
    try:
        value = await conn.fetchval("SELECT $1::int * 2", n)
    finally:
        await conn.close()
    return int(value)


@io.use
async def check_token(socket: aiosio.Socket) -> None:
    """Refuse unless the handshake's token names a user in Redis."""
    token = socket.handshake.auth.get("token") if socket.handshake.auth else None
    async with asyncio.timeout(2):
        user = await db.get(f"{KEY}:token:{token}")
    if user is None:
        raise ConnectRefusedError("invalid token", {"token": token, "node": NODE})
    socket.data = {"user": user}


@io.on("connect")
def audit_connect(socket: aiosio.Socket) -> None:
    """A plain ``def`` hook that runs before the ``connection`` handlers and may block a little."""
    if SLOW_CONNECT:
        time.sleep(SLOW_CONNECT)


@io.on("connection")
async def on_connection(socket: aiosio.Socket) -> None:
    # Handlers first: events the client sends once connected may arrive while this one awaits.
    user = socket.data["user"]

    @socket.on("whoami")
    async def whoami() -> dict[str, Any]:
        return {"user": user, "node": NODE, "task": asyncio.current_task() is not None}

    @socket.on("redis_incr")
    async def redis_incr(name: str) -> int:
        async with asyncio.timeout(2):
            return int(await db.incr(f"{KEY}:counter:{name}"))

    @socket.on("pg_double")
    async def on_pg_double(n: int) -> int:
        return await asyncio.wait_for(pg_double(n), 5)

    @socket.on("http_echo")
    async def http_echo(text: str) -> dict[str, str]:
        async with asyncio.timeout(5):
            return await http_text(text)

    @socket.on("timeouts")
    async def timeouts() -> dict[str, str]:
        answers: dict[str, str] = {}
        try:
            async with asyncio.timeout(0.05):
                await asyncio.sleep(30)
            answers["timeout"] = "finished"
        except TimeoutError:
            answers["timeout"] = "timed out"
        try:
            await asyncio.wait_for(asyncio.sleep(30), 0.05)
            answers["wait_for"] = "finished"
        except TimeoutError:
            answers["wait_for"] = "timed out"
        answers["ping"] = "pong" if await asyncio.wait_for(db.ping(), 2) else "no"
        return answers

    async def incr(name: str) -> int:
        return int(await db.incr(f"{KEY}:counter:{name}"))

    @socket.on("task_group")
    async def task_group(n: int, text: str) -> dict[str, Any]:
        async with asyncio.TaskGroup() as group:
            counter = group.create_task(incr("tg"))
            doubled = group.create_task(pg_double(n))
            echoed = group.create_task(http_text(text))
        return {"counter": counter.result(), "double": doubled.result(), "http": echoed.result()}

    @socket.on("context")
    async def context(value: str) -> list[str]:
        before = request_id.get()
        token = request_id.set(value)
        await db.ping()
        await asyncio.sleep(0)
        seen = request_id.get()
        request_id.reset(token)
        return [before, seen, request_id.get()]

    @socket.on("context_leak")
    async def context_leak(value: str) -> str:
        # sets and never resets: the next event must not see it
        request_id.set(value)
        await db.ping()
        return request_id.get()

    @socket.on("thread_emit")
    async def thread_emit(count: int) -> str:
        def work() -> None:
            for index in range(count):
                socket.emit("tick", index, threading.current_thread().name)
            socket.emit("ticks_done", count)

        threading.Thread(target=work, name="worker").start()
        return "started"

    @socket.on("count_users")
    async def count_users() -> dict[str, Any]:
        sockets = await io.fetch_sockets()
        users = sorted(s.data["user"] for s in sockets)
        io.to("users").emit("counted", len(sockets), NODE)
        return {"count": len(sockets), "users": users}

    @socket.on("shout")
    async def shout(text: str) -> None:
        await db.rpush(f"{KEY}:shouts", text)
        io.emit("shout", text, NODE)

    @socket.on("ask_servers")
    async def ask_servers(question: str) -> list[Any]:
        answers = await io.server_side_emit_with_ack("question", question, NODE)
        return sorted(answers)

    @socket.on("disconnect")
    async def on_disconnect(reason: str) -> None:
        async with asyncio.timeout(2):
            await db.hset(f"{KEY}:left:{user}", mapping={"reason": reason, "node": NODE})
            await db.srem(f"{KEY}:online", user)

    socket.join("users")
    async with asyncio.timeout(2):
        await db.sadd(f"{KEY}:online", user)


@io.on("question")
async def on_question(question: str, asker: str) -> str:
    """A server-side event from another node of the cluster."""
    async with asyncio.timeout(2):
        await db.rpush(f"{KEY}:questions:{NODE}", f"{asker}:{question}")
    return f"{NODE} answers {question}"


async def _main(port: int) -> None:
    bound = await io.listen(port, "127.0.0.1")
    print(f"listening {bound}", flush=True)
    await wait_for_shutdown_signal()
    await io.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    run(_main(parser.parse_args().port))
