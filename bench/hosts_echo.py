"""Echo cost of a WebSocket server, in CPU microseconds per message, and RSS per idle connection.

    python bench/hosts_echo.py echo aiosio|websockets [--loop uvloop|asyncio] [-n 20000]
    python bench/hosts_echo.py idle aiosio|websockets [-c 2000]

The server runs in a child process; a raw-socket client (in this process) sends masked frames one
at a time and waits for each echo. The server's CPU time (user + system) is read from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import socket
import subprocess
import sys
import time

from aiosio._http.frames import OP_TEXT, encode_frame

SERVER = r"""
import asyncio, sys
kind, loop_name = sys.argv[1], sys.argv[2]
if loop_name == "uvloop":
    import uvloop; uvloop.install()

async def main():
    if kind == "aiosio":
        from aiosio.serve import serve
        class Handler:
            __slots__ = ("c",)
            def __init__(self, c): self.c = c
            def on_message(self, data): self.c.send(data)
            def on_disconnect(self, error=None): pass
        class App:
            path = "/engine.io/"; max_http_buffer_size = 1_000_000
            def handle_request(self, request, respond): pass
            def handle_websocket(self, request, connection): connection.accept(Handler(connection))
        srv = await serve(App(), "127.0.0.1", 0)
        port = srv.port
    elif kind == "floor":
        # No framing at all: a Protocol that writes back the bytes it reads (the syscall floor).
        class Echo(asyncio.Protocol):
            def connection_made(self, t): self.t = t; self.hs = False
            def data_received(self, data):
                if not self.hs:
                    self.hs = True
                    from aiosio._http.frames import accept_key
                    key = data.split(b"Sec-WebSocket-Key: ")[1].split(b"\r\n")[0].decode()
                    accept = accept_key(key).encode()
                    self.t.write(b"HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: %s\r\n\r\n" % accept)
                else:
                    self.t.write(data)
        srv = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
    else:
        from websockets.asyncio.server import serve as ws_serve
        async def echo(ws):
            async for message in ws:
                await ws.send(message)
        srv = await ws_serve(echo, "127.0.0.1", 0, compression=None, ping_interval=None)
        port = srv.sockets[0].getsockname()[1]
    print(port, flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start(kind: str, loop: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, kind, loop], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def handshake(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /engine.io/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 101"), head
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def echo(kind: str, loop: str, count: int) -> None:
    proc, port = start(kind, loop)
    try:
        sock = handshake(port)
        frame = encode_frame(OP_TEXT, b'42["chat","hello world"]', mask=b"\x01\x02\x03\x04")
        for _ in range(1000):  # warm up
            sock.sendall(frame)
            sock.recv(256)
        before = cpu_seconds(proc.pid)
        started = time.perf_counter()
        for _ in range(count):
            sock.sendall(frame)
            sock.recv(256)
        wall = time.perf_counter() - started
        used = cpu_seconds(proc.pid) - before
        print(
            f"{kind:10} {loop:8} {used / count * 1e6:6.1f} us CPU/echo"
            f"  {wall / count * 1e6:6.1f} us round trip"
        )
    finally:
        proc.kill()
        proc.wait()


async def open_idle(port: int, count: int) -> list[socket.socket]:
    return [await asyncio.to_thread(handshake, port) for _ in range(count)]


def idle(kind: str, loop: str, count: int) -> None:
    proc, port = start(kind, loop)
    try:
        time.sleep(0.3)
        base = rss_kib(proc.pid)
        socks = [handshake(port) for _ in range(200)]  # warm up allocators
        warm = rss_kib(proc.pid)
        socks += [handshake(port) for _ in range(count - 200)]
        time.sleep(0.5)
        total = rss_kib(proc.pid)
        per = (total - warm) * 1024 / (count - 200)
        print(f"{kind:10} {loop:8} base {base} KiB, {count} idle: {total} KiB, {per:.0f} B/conn")
        for s in socks:
            s.close()
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["echo", "idle"])
    parser.add_argument("kind", choices=["aiosio", "websockets", "floor"])
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("-n", type=int, default=20000)
    parser.add_argument("-c", type=int, default=2000)
    args = parser.parse_args()
    if args.mode == "echo":
        echo(args.kind, args.loop, args.n)
    else:
        idle(args.kind, args.loop, args.c)


if __name__ == "__main__":
    main()
