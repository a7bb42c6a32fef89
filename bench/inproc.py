"""Python cost of the embedded server's hot paths, in process: no sockets, no kernel.

    python bench/inproc.py echo|ack|bcast|handshake [-n N] [--async-handlers] [--metrics]
    python bench/inproc.py metrics-ab [-n N]  # echo without and with metrics, rounds interleaved

A fake transport stands in for the socket: masked client frames are fed to the real ``HttpProtocol``
/ ``WebSocket`` objects of a server built with the benchmark handlers (bench/servers), and whatever
the server writes is counted and dropped. The numbers are the Python share of each path (the kernel's
share is measured by the real benchmark, bench/run.py). Best of 5 rounds of process CPU time, so a
busy machine disturbs them little. Frames are fed in batches of 100 with one turn of the event loop
after each, so that handler tasks scheduled on Python 3.11 run inside the measurement too.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent / "servers"))

from aiosio_server import build

from aiosio._http.frames import OP_TEXT, encode_frame
from aiosio._http.host import Host
from aiosio._http.protocol import HttpProtocol

UPGRADE = (
    b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)
MASK = b"\x01\x02\x03\x04"
ECHO = b'42["echo",{"id":1,"text":"hello, world","n":[1,2,3]}]'
ACK = b'421["echo_ack",{"id":1,"text":"hello, world","n":[1,2,3]}]'


class FakeTransport:
    """Just enough of an asyncio transport; counts the bytes written."""

    def __init__(self) -> None:
        self.protocol: Any = None
        self.written = 0
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def writelines(self, lines: Iterable[bytes]) -> None:
        for data in lines:
            self.written += len(data)

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 5555) if name == "peername" else default

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol

    def get_protocol(self) -> Any:
        return self.protocol

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True


def connect(host: Host, upgrade: bytes = UPGRADE) -> Any:
    """Open a WebSocket with the ``upgrade`` request and join "/"; return the WebSocket protocol
    object."""
    transport = FakeTransport()
    http = HttpProtocol(host)
    transport.protocol = http
    http.connection_made(transport)  # type: ignore[arg-type]
    http.data_received(upgrade)
    ws = transport.protocol
    ws.data_received(encode_frame(OP_TEXT, b"40", mask=MASK))
    return ws


BATCH = 100


async def best(rounds: int, fn: Any) -> float:
    """The shortest of ``rounds`` timings of ``await fn()``, in seconds of this process's CPU time (so
    that other processes on a busy machine count as little as possible)."""
    times = []
    for _ in range(rounds):
        start = time.process_time()
        await fn()
        times.append(time.process_time() - start)
    return min(times)


async def feeder(host: Host, frame: bytes) -> Any:
    """A connected WebSocket's ``feed(count)``: ``count`` frames, a turn of the loop every 100."""
    data_received = connect(host).data_received
    await asyncio.sleep(0)  # on 3.11 the CONNECT is answered on the next turn of the loop

    async def feed(count: int) -> None:
        for _ in range(count // BATCH):
            for _ in range(BATCH):
                data_received(frame)
            await asyncio.sleep(0)

    await feed(2000)
    return feed


async def metrics_ab(n: int, rounds: int = 15) -> None:
    """Echo on two servers in this process, without and with metrics, their rounds interleaved so
    that a busy machine slows both alike; the best round of each."""
    frame = encode_frame(OP_TEXT, ECHO, mask=MASK)
    feeds = [
        await feeder(Host(build(metrics=m).engine_app(), None, "http"), frame)
        for m in (False, True)
    ]
    times: list[list[float]] = [[], []]
    for _ in range(rounds):
        for i, feed in enumerate(feeds):
            start = time.process_time()
            await feed(n)
            times[i].append(time.process_time() - start)
    off, on = (min(t) / n * 1e6 for t in times)
    print(
        f"echo: {off:.3f} us per message, with metrics {on:.3f} us (+{(on / off - 1) * 100:.1f}%)"
    )


async def main(what: str, n: int, async_handlers: bool = False, metrics: bool = False) -> None:
    if what == "metrics-ab":
        await metrics_ab(n)
        return
    host = Host(build(async_handlers, metrics).engine_app(), None, "http")
    if what in ("echo", "ack"):
        feed = await feeder(host, encode_frame(OP_TEXT, ECHO if what == "echo" else ACK, mask=MASK))
        kind = "async def" if async_handlers else "plain"
        took = await best(5, lambda: feed(n))
        print(f"{what} ({kind} handlers): {took / n * 1e6:.2f} us per message")
    elif what == "bcast":
        sockets = [connect(host) for _ in range(n)]
        await asyncio.sleep(0)
        frame = encode_frame(OP_TEXT, b'42["bcast",{"seq":1}]', mask=MASK)
        feed = sockets[0].data_received

        async def bcast() -> None:
            for _ in range(20):
                feed(frame)
                await asyncio.sleep(0)

        took = await best(7, bcast) / 20
        print(
            f"bcast to {n}: {took * 1e3:.3f} ms per broadcast, {took / n * 1e6:.3f} us per delivery"
        )
    else:

        async def handshakes() -> None:
            for i in range(n):
                connect(host).connection_lost(None)
                if i % BATCH == 0:
                    await asyncio.sleep(0)

        took = await best(5, handshakes)
        print(f"handshake (WebSocket, CONNECT, close): {took / n * 1e6:.1f} us")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=("echo", "ack", "bcast", "handshake", "metrics-ab"))
    parser.add_argument("-n", type=int, default=0, help="messages, or sockets for bcast")
    parser.add_argument("--async-handlers", action="store_true", help="async def echo handlers")
    parser.add_argument("--metrics", action="store_true", help="with Prometheus metrics counting")
    args = parser.parse_args()
    default = {
        "echo": 50_000,
        "ack": 50_000,
        "bcast": 1000,
        "handshake": 2000,
        "metrics-ab": 20_000,
    }[args.what]
    uvloop.run(main(args.what, args.n or default, args.async_handlers, args.metrics))
