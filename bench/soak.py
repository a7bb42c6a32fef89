"""Soak: many connect / CONNECT / disconnect cycles over both transports; nothing may be left behind.

    python bench/soak.py                      # 10,000 cycles over polling and 10,000 over WebSocket
    python bench/soak.py --cycles 2000 --concurrency 10

The server runs in its own process (this script with ``--serve``) and answers a ``stats`` event with
its RSS, open file descriptors, asyncio tasks, Engine.IO sessions and Socket.IO sockets. The driver
takes a baseline after a warm-up, runs the cycles with aiosio's client (each cycle: open a session,
join "/", emit with an ack, disconnect), lets the server settle, and compares. It fails (exit 1) if
RSS is more than 5 MB above the baseline, or if file descriptors, tasks or sessions did not return.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiosio
from aiosio.client import connect

RSS_SLACK = 5 * 1000 * 1000


def rss_bytes() -> int:
    """This process's resident set size."""
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


async def serve(port: int) -> None:
    """The server under test, until stdin closes."""
    io = aiosio.Server()

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        @socket.on("echo")
        async def echo(value: Any) -> Any:
            await asyncio.sleep(0)
            return value

        @socket.on("stats")
        def stats() -> dict[str, int]:
            gc.collect()
            return {
                "rss": rss_bytes(),
                "fds": len(os.listdir("/proc/self/fd")),
                "tasks": len(asyncio.all_tasks()),
                "sessions": io.engine.clients_count,
                "sockets": len(io.sockets.sockets),
            }

    bound = await io.listen(port)
    print(f"LISTENING {bound}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await io.close()


async def cycle(url: str, transport: str, n: int) -> None:
    socket = await connect(url, force_new=True, transports=[transport], reconnection=False)
    try:
        assert await socket.timeout(10).emit_with_ack("echo", n) == n
    finally:
        await socket.disconnect()


async def run_cycles(url: str, transport: str, cycles: int, concurrency: int) -> float:
    started = time.monotonic()
    queue = iter(range(cycles))

    async def worker() -> None:
        for n in queue:
            await cycle(url, transport, n)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.monotonic() - started


async def drive(args: argparse.Namespace, port: int) -> dict[str, Any]:
    """Warm up, take the baseline, run the cycles, compare; the report."""
    url = f"http://127.0.0.1:{port}"
    watcher = await connect(url, force_new=True, transports=["websocket"])
    try:

        async def stats() -> dict[str, int]:
            await asyncio.sleep(args.settle)
            result: dict[str, int] = await watcher.timeout(10).emit_with_ack("stats")
            return result

        for transport in ("polling", "websocket"):
            await run_cycles(url, transport, args.warmup, args.concurrency)
        before = await stats()
        took = {}
        for transport in ("polling", "websocket"):
            took[transport] = await run_cycles(url, transport, args.cycles, args.concurrency)
        after = await stats()
    finally:
        await watcher.disconnect()
    return {
        "cycles_per_transport": args.cycles,
        "seconds": {k: round(v, 1) for k, v in took.items()},
        "before": before,
        "after": after,
        "rss_delta_bytes": after["rss"] - before["rss"],
    }


def judge(report: dict[str, Any]) -> list[str]:
    """What did not come back to the baseline."""
    before, after = report["before"], report["after"]
    problems = []
    if report["rss_delta_bytes"] > RSS_SLACK:
        problems.append(f"RSS grew by {report['rss_delta_bytes'] / 1e6:.1f} MB")
    for key in ("fds", "tasks", "sessions", "sockets"):
        if after[key] != before[key]:
            problems.append(f"{key}: {before[key]} -> {after[key]}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--cycles", type=int, default=10_000, help="cycles per transport")
    parser.add_argument(
        "--warmup", type=int, default=300, help="cycles per transport before the baseline"
    )
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--settle", type=float, default=1.0, help="seconds before taking stats")
    parser.add_argument("--output", help="also write the report (JSON) here")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        aiosio.run(serve(args.port))
        return 0
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--port", "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().split()[1])
        report = aiosio.run(drive(args, port))
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(10)
    print(json.dumps(report, indent=1))
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=1))
    problems = judge(report)
    print("OK" if not problems else "FAILED: " + "; ".join(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
