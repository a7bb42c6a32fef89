"""The syscall floor of a broadcast: a bare uvloop Protocol that writes one prebuilt frame per socket.

    python bench/floor_bcast.py --port 3000
    node bench/gen/loadgen.js --mode bcast --port 3000 --clients 1000 --server-pid <pid>

It speaks just enough Engine.IO / Socket.IO for the load generator (the 101 answer, the open packet,
the CONNECT reply) and sends every event it receives, framed once, to every connected socket with
one ``transport.write`` each: no engine, no rooms, no per-socket Python beyond the loop. What a real
server spends per delivery above this floor is its own overhead (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio

import uvloop

from aiosio._http.frames import OP_TEXT, FrameReader, accept_key, frame_header


def text_frame(text: str) -> bytes:
    """One unmasked final text frame."""
    payload = text.encode()
    return frame_header(OP_TEXT, len(payload)) + payload


OPEN = text_frame(
    '0{"sid":"floor","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'
)
CONNECTED = text_frame('40{"sid":"floor"}')
ready: list[asyncio.Transport] = []


class FloorProtocol(FrameReader, asyncio.Protocol):
    """One client: the handshake by hand, then frames through the aiosio frame reader."""

    __slots__ = ("handshaken", "transport")

    def __init__(self) -> None:
        super().__init__(1 << 20)
        self.handshaken = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        if self.handshaken:
            self.feed(data)
            return
        self.handshaken = True
        key = data.split(b"ec-WebSocket-Key: ")[1].split(b"\r\n")[0].decode()
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept_key(key).encode() + b"\r\n\r\n" + OPEN
        )

    def message_received(self, data: str | bytes) -> None:
        assert self.transport is not None
        if data == "40":
            self.transport.write(CONNECTED)
            ready.append(self.transport)
        elif isinstance(data, str) and data.startswith("42"):
            frame = text_frame(data)
            for transport in ready:
                transport.write(frame)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport in ready:
            ready.remove(self.transport)


async def main(port: int) -> None:
    """Serve until killed."""
    loop = asyncio.get_running_loop()
    await loop.create_server(FloorProtocol, "127.0.0.1", port, backlog=4096)
    print(f"LISTENING {port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=3000)
    uvloop.run(main(parser.parse_args().port))
