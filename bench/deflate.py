"""permessage-deflate on vs off: server CPU per echoed message and server memory per connection.

    python bench/deflate.py [--clients 1000] [--duration 4] [--warmup 1] [--no-node] [--json FILE]
                            [--no-sockets]

First, in process (as bench/inproc.py: the real ``HttpProtocol`` / ``WebSocket`` objects of an
``aiosio.Server`` fed masked client frames through a fake transport, no kernel): the Python CPU
cost of one echo with the option off, on, on without context takeover ("on-nct") and on with 2 KiB
windows and ``mem_level=5`` ("on-small"), for a small
and a 4 KiB JSON message (the client's 4 KiB frames compressed as the official client sends them),
best of 5 rounds; and the memory allocated (tracemalloc, zlib's buffers included) for ``--clients``
connections that each echoed one message of that size, per connection.

Then over sockets, for each server (aiosio's embedded server, and the official socket.io server in Node unless
``--no-node``), with ``per_message_deflate`` / ``perMessageDeflate`` off and on, and for a small
(55-byte) and a 4 KiB JSON message: ``--clients`` WebSocket clients connect through the load
generator (bench/gen/loadgen.js, which offers permessage-deflate with the official client's
1024-byte threshold when ``--deflate 1``) and echo at a fixed total ``--rate`` (the same load for
every server, so that batching does not favour the faster one). Reported: the server's CPU
microseconds per echoed message (one message in, one out), and the growth of its resident memory
from before the clients connected to the end of the measured window, per connection. The last
lines give each measure as an on/off ratio. One run measures everything; the 2-core machine is
shared with the generator, so compare the ratios rather than the absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import uvloop
from inproc import MASK, FakeTransport, connect
from run import LOGS, Point, RunningServer, ServerSpec, run_generator, started

from aiosio._http.frames import OP_TEXT, encode_frame
from aiosio._http.host import Host

sys.path.insert(0, str(Path(__file__).resolve().parent / "servers"))
from aiosio_server import build

BENCH = Path(__file__).resolve().parent
SIZES = {"small": 0, "4KiB": 4096}
UPGRADE = (
    b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    # the offer of ws (Node) and of browsers
    b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
)
BATCH = 100


def echo_message(size: int) -> bytes:
    """The load generator's echo message, padded with JSON rows to about ``size`` bytes."""
    base = b'42["echo",{"id":1,"text":"hello, world","n":[1,2,3]}]'
    rows: list[str] = []
    text = base
    i = 0
    while len(text) < size:
        active = "true" if i % 3 else "false"
        rows.append(
            f'{{"id":{i},"user":"user{(i * 7919) % 1000}","score":{(i * 37) % 101},'
            f'"active":{active}}}'
        )
        text = (
            '42["echo",{"id":1,"text":"hello, world","rows":[' + ",".join(rows) + "]}]"
        ).encode()
        i += 1
    return text


def client_frame(message: bytes, option: Any) -> bytes:
    """The masked frame a client sends: compressed (RSV1) from 1024 bytes on when ``option``."""
    if not option or len(message) < 1024:
        return encode_frame(OP_TEXT, message, mask=MASK)
    bits = option.get("client_max_window_bits", 15) if isinstance(option, dict) else 15
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -bits)
    payload = (compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
    frame = encode_frame(OP_TEXT, payload, mask=MASK)
    return bytes((frame[0] | 0x40,)) + frame[1:]


def open_ws(host: Host) -> Any:
    """A WebSocket that offered permessage-deflate and joined "/"."""
    return connect(host, UPGRADE)


#: The in-process variants: off, on (context takeover), on without context takeover either way.
VARIANTS: dict[str, Any] = {
    "off": False,
    "on": True,
    "on-nct": {"server_no_context_takeover": True, "client_no_context_takeover": True},
    "on-small": {"server_max_window_bits": 11, "client_max_window_bits": 11, "mem_level": 5},
}


async def inproc(clients: int) -> list[dict[str, Any]]:
    """CPU per echo and memory per connection in this process, for each of ``VARIANTS``."""
    rows = []
    keep: list[Any] = []
    for size in SIZES.values():
        message = echo_message(size)
        timings: dict[str, list[float]] = {name: [] for name in VARIANTS}
        feeds = {}
        transports: dict[str, FakeTransport] = {}
        wire: dict[str, float] = {}
        for name, option in VARIANTS.items():
            host = Host(build(per_message_deflate=option).engine_app(), None, "http")
            ws = open_ws(host)
            feeds[name] = (ws.data_received, client_frame(message, option))
            transports[name] = ws.transport
        await asyncio.sleep(0)
        n = 20_000 if size < 1024 else 5_000
        for _ in range(5):  # rounds interleaved: a busy machine slows both alike
            for name, (data_received, frame) in feeds.items():
                written = transports[name].written
                start = time.process_time()
                for _ in range(n // BATCH):
                    for _ in range(BATCH):
                        data_received(frame)
                    await asyncio.sleep(0)
                timings[name].append(time.process_time() - start)
                wire[name] = (transports[name].written - written) / n
        for name, option in VARIANTS.items():
            gc.collect()
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            host = Host(build(per_message_deflate=option).engine_app(), None, "http")
            frame = client_frame(message, option)
            opened = [open_ws(host) for _ in range(clients)]
            await asyncio.sleep(0)  # on 3.11 the CONNECTs are answered on the next turn
            written = sum(ws.transport.written for ws in opened)
            for i, ws in enumerate(opened):
                ws.data_received(frame)
                if i % BATCH == 0:
                    await asyncio.sleep(0)
            await asyncio.sleep(0)
            echoed = sum(ws.transport.written for ws in opened) - written
            assert echoed >= clients * (len(message) // 20), "the echoes did not happen"
            keep.extend(opened)
            gc.collect()
            after = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
            rows.append(
                {
                    "server": "aiosio-inproc",
                    "deflate": name,
                    "size": size,
                    "echo_bytes": len(message),
                    "per_s": 0.0,
                    "wire_bytes": wire[name],
                    "cpu_us_per_msg": min(timings[name]) / n * 1e6,
                    # allocated (zlib's buffers included), not only the pages touched so far
                    "rss_per_conn": (after - before) / clients,
                    "mismatches": 0,
                }
            )
    return rows


def rss_bytes(pid: int) -> int:
    """The resident memory of process ``pid``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def specs(node: bool) -> list[tuple[ServerSpec, bool]]:
    """(server, deflate) pairs to measure."""
    py = sys.executable
    aiosio = str(BENCH / "servers" / "aiosio_server.py")
    out = [
        (ServerSpec("aiosio", "aiosio (embedded)", (py, aiosio)), False),
        (ServerSpec("aiosio", "aiosio (embedded)", (py, aiosio, "--per-message-deflate")), True),
    ]
    if node:
        script = str(BENCH / "servers" / "node_server.js")
        for flag in (False, True):
            argv = ("node", script, "--per-message-deflate", "1" if flag else "0")
            out.append((ServerSpec("node", "socket.io (Node)", argv, {}), flag))
    return out


def measure(spec: ServerSpec, deflate: bool, size: int, args: argparse.Namespace) -> dict[str, Any]:
    """One server run: connect, echo, read CPU and memory."""
    point = Point(
        scenario="deflate",
        key="deflate",
        title="deflate",
        mode="latency",
        gen_args={
            "clients": args.clients,
            "rate": args.rate,
            "deflate": 1,
            "echo-size": size,
            "concurrency": 50,
        },
        metrics=(),
    )
    log = LOGS / f"deflate-{spec.name}-{int(deflate)}-{size}.log"
    server: RunningServer
    with started(spec, None, log) as server:
        time.sleep(0.3)
        before = rss_bytes(server.pid)
        result = run_generator(point, server, None, args.duration, args.warmup)
    if not result.get("ok"):
        raise RuntimeError(f"{spec.name} deflate={deflate} size={size}: {result}")
    live = args.clients - int(result.get("connect_failures", 0))
    return {
        "server": spec.name,
        "deflate": "on" if deflate else "off",
        "size": size,
        "echo_bytes": result["echo_bytes"],
        "per_s": result["per_s"],
        "cpu_us_per_msg": result["server_cpu_us_per_msg"],
        "rss_per_conn": (result["rss_loaded_bytes"] - before) / live,
        "mismatches": result.get("mismatches", 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--rate", type=float, default=2000, help="echoes per second, in all")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--no-node", action="store_true", help="skip the Node reference server")
    parser.add_argument("--no-sockets", action="store_true", help="the in-process part only")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    print(
        f"{'server':14} {'deflate':8} {'message':>7} {'echo/s':>7} {'out B':>6} "
        f"{'CPU us/msg':>10} {'mem/conn':>12}  (in process: allocated; sockets: RSS growth)"
    )
    labels = {size: label for label, size in SIZES.items()}

    def show(row: dict[str, Any]) -> None:
        print(
            f"{row['server']:14} {row['deflate']:8} {labels[row['size']]:>7} "
            f"{row['per_s']:7.0f} {row.get('wire_bytes', 0):6.0f} {row['cpu_us_per_msg']:10.2f} "
            f"{row['rss_per_conn'] / 1024:8.1f} KiB",
            flush=True,
        )
        if row["mismatches"]:
            print(f"  ! {row['mismatches']} echoes did not match", flush=True)

    rows = uvloop.run(inproc(args.clients))
    for row in rows:
        show(row)
    if not args.no_sockets:
        for spec, deflate in specs(not args.no_node):
            for size in SIZES.values():
                row = measure(spec, deflate, size, args)
                rows.append(row)
                show(row)
    print("\nratios to off (CPU per message, memory per connection):")
    for server in sorted({row["server"] for row in rows}):
        for label, size in SIZES.items():
            by = {
                row["deflate"]: row
                for row in rows
                if row["server"] == server and row["size"] == size
            }
            off = by.get("off")
            for name, row in by.items():
                if off is None or name == "off":
                    continue
                cpu = row["cpu_us_per_msg"] / off["cpu_us_per_msg"]
                mem = row["rss_per_conn"] / max(off["rss_per_conn"], 1.0)
                print(f"  {server:14} {label:>6} {name:8}: CPU x{cpu:.2f}, memory x{mem:.2f}")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
