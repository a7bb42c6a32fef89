"""The aiosio twin of tests/node/sio_server.js: the same events, the same JSON lines on stdout.

    python -m tests.client.aiosio_server <port> '<json options>'

Options use the Node names and units (milliseconds) so one test drives either server.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any

import aiosio
from aiosio import ConnectRefusedError


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"buffer": bytes(value).hex()}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def emit_line(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(_jsonable(obj)) + "\n")
    sys.stdout.flush()


def server_options(options: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ping_interval": options.get("pingInterval", 25000) / 1000,
        "ping_timeout": options.get("pingTimeout", 20000) / 1000,
    }
    if "transports" in options:
        result["transports"] = options["transports"]
    if "path" in options:
        result["path"] = options["path"]
    if "maxHttpBufferSize" in options:
        result["max_http_buffer_size"] = options["maxHttpBufferSize"]
    if "perMessageDeflate" in options:
        result["per_message_deflate"] = options["perMessageDeflate"]
    recovery = options.get("connectionStateRecovery")
    if recovery:
        result["connection_state_recovery"] = {
            "max_disconnection_duration": recovery.get("maxDisconnectionDuration", 120000) / 1000,
            "skip_middlewares": recovery.get("skipMiddlewares", True),
        }
    return result


async def never() -> None:
    await asyncio.Event().wait()


def build(io: aiosio.Server) -> None:
    flaky_counts: dict[str, int] = {}

    def on_engine_connection(conn: aiosio.EngineSocket) -> None:
        emit_line({"event": "handshake", "sid": conn.id, "transport": conn.transport})
        conn.on(
            "upgrade",
            lambda name: emit_line({"event": "upgrade", "sid": conn.id, "transport": name}),
        )
        conn.on(
            "close",
            lambda reason, *_: emit_line(
                {"event": "engine_close", "sid": conn.id, "reason": reason}
            ),
        )

    io.engine.on("connection", on_engine_connection)

    def setup(nsp: aiosio.Namespace) -> None:
        name = nsp.name

        def middleware(socket: aiosio.Socket) -> None:
            auth = socket.handshake.auth
            emit_line({"event": "middleware", "nsp": name, "auth": auth})
            if name == "/forbidden" or (auth and auth.get("token") == "bad"):
                raise ConnectRefusedError("refused", {"reason": "bad token"})

        nsp.use(middleware)

        def on_connection(socket: aiosio.Socket) -> None:
            handshake = socket.handshake
            emit_line(
                {
                    "event": "connection",
                    "nsp": name,
                    "id": socket.id,
                    "recovered": socket.recovered,
                    "auth": handshake.auth,
                    "query": handshake.query,
                    "header": handshake.headers.get("x-test"),
                    "transport": socket.conn.transport,
                }
            )
            loop = asyncio.get_running_loop()

            @socket.on("disconnect")
            def disconnect(reason: str) -> None:
                emit_line({"event": "disconnect", "nsp": name, "id": socket.id, "reason": reason})

            socket.on("echo", lambda *args: socket.emit("echo", *args))
            socket.on("ack", lambda *args: args)
            socket.on("no_ack", lambda *args: never())

            @socket.on("record")
            def record(*args: Any) -> str:
                emit_line({"event": "record", "nsp": name, "id": socket.id, "args": list(args)})
                return "ok"

            @socket.on("flaky")
            def flaky(key: str) -> Any:
                count = flaky_counts[key] = flaky_counts.get(key, 0) + 1
                emit_line({"event": "flaky", "key": key, "count": count})
                return f"ok:{key}" if count >= 2 else never()

            @socket.on("binary")
            def binary(buf: bytes) -> tuple[bytes, str]:
                out = buf + bytes([1, 2, 3])
                socket.emit("binary", {"buf": out, "list": [b"xyz", 7]})
                return out, "text"

            socket.on("get_transport", lambda: socket.conn.transport)

            @socket.on("many")
            def many(count: int) -> None:
                for i in range(count):
                    socket.emit("item", i)

            socket.on("server_disconnect", lambda: socket.disconnect())
            socket.on("raw", lambda data: socket.conn.send(data))
            socket.on("close_transport", lambda: socket.conn.close())
            socket.on("broadcast", lambda *args: io.emit("news", *args))

            @socket.on("close_then_broadcast")
            def close_then_broadcast(msg: Any) -> None:
                socket.conn.close()
                loop.call_later(0.02, io.emit, "news", msg)

            @socket.on("ask")
            async def ask(*args: Any) -> None:
                try:
                    answer = await socket.timeout(2).emit_with_ack("question", *args)
                    emit_line({"event": "answer", "answer": answer})
                except Exception as exc:
                    emit_line({"event": "answer_error", "message": str(exc)})

            @socket.on("ask_many")
            async def ask_many(*args: Any) -> None:
                answer = await socket.timeout(2).emit_with_ack("question_many", *args)
                emit_line({"event": "answer", "answer": list(answer), "error": None})

        nsp.on("connection", on_connection)

    for name in ("/", "/admin", "/other", "/forbidden"):
        setup(io.of(name))


async def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    options = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    io = aiosio.Server(**server_options(options))
    build(io)
    bound = await io.listen(port, "127.0.0.1")
    emit_line({"event": "listening", "port": bound})
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    # Exit when stdin closes, so that no server outlives the test process.
    loop.add_reader(sys.stdin.fileno(), lambda: done.set() if not sys.stdin.read(1) else None)
    await done.wait()


if __name__ == "__main__":
    asyncio.run(main())
