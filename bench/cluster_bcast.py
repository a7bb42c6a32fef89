"""Cross-node broadcast: two servers of one cluster, 1,000 clients on each, for every adapter engine.

    .venv/bin/python bench/cluster_bcast.py [--clients 2000] [--duration 5] [--engines redis,postgres]

For each engine (Redis classic, sharded, streams; PostgreSQL) and each implementation (aiosio, Node's
socket.io with the official adapter), two server processes join one cluster; the load generator
(``bench/gen/loadgen.js --mode bcast``) connects half the clients to each. Client 0 emits ``bcast``;
its server broadcasts to every client of the cluster, the other server's half through the engine. A
round ends when every client has the message; the next starts at once (closed loop). Reported:
deliveries per second and the CPU of both server processes per delivery (the engine's own process,
redis-server or postgres, is not counted). Needs Redis on 127.0.0.1:6379 and PostgreSQL on
127.0.0.1:5432 (database ``test``), as the test suite does, and the repository's node_modules.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
ENGINES = ("redis", "sharded", "streams", "postgres")
URLS = {
    "postgres": "postgresql://postgres@127.0.0.1:5432/test",
    "redis": "redis://127.0.0.1:6379",
}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(impl: str, engine: str, prefix: str) -> tuple[subprocess.Popen[bytes], int]:
    """One cluster node; returns it once it listens."""
    port = free_port()
    url = URLS["postgres" if engine == "postgres" else "redis"]
    common = ["--port", str(port), "--adapter", engine, "--url", url, "--prefix", prefix]
    if impl == "aiosio":
        argv = [sys.executable, str(BENCH / "servers" / "aiosio_server.py"), *common]
    else:
        argv = ["node", str(BENCH / "servers" / "node_cluster_server.js"), *common]
    env = {**os.environ, "PYTHONPATH": str(BENCH / "servers")}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if not line.startswith("LISTENING"):
        proc.kill()
        raise RuntimeError(f"{impl}/{engine} did not start: {line!r}")
    return proc, port


def run(impl: str, engine: str, clients: int, duration: float) -> dict[str, Any]:
    prefix = f"b{secrets.token_hex(3)}"
    nodes = [start(impl, engine, prefix) for _ in range(2)]
    try:
        time.sleep(1.0)  # subscriptions and heartbeats in place
        (first, port), (second, port2) = nodes
        argv = [
            *("node", str(BENCH / "gen" / "loadgen.js"), "--mode", "bcast"),
            *("--clients", str(clients), "--duration", str(duration), "--warmup", "2"),
            *("--port", str(port), "--port2", str(port2)),
            *("--server-pid", str(first.pid), "--server-pid2", str(second.pid)),
            *("--clk-tck", str(os.sysconf("SC_CLK_TCK")), "--round-timeout", "5"),
        ]
        done = subprocess.run(argv, capture_output=True, check=False, timeout=duration + 180)
        lines = [x for x in done.stdout.decode().splitlines() if x.startswith("RESULT ")]
        if not lines:
            raise RuntimeError(f"no result: {done.stderr.decode()[-500:]}")
        result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
        return result
    finally:
        for proc, _ in nodes:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--impls", default="aiosio,node")
    args = parser.parse_args()
    rows = []
    for engine in args.engines.split(","):
        for impl in args.impls.split(","):
            try:
                result = run(impl, engine, args.clients, args.duration)
            except Exception as exc:
                print(f"{engine:9} {impl:7} failed: {exc}", flush=True)
                continue
            if not result.get("ok", True) or "deliveries_per_s" not in result:
                print(f"{engine:9} {impl:7} failed: {result.get('error')}", flush=True)
                continue
            row = (
                engine,
                impl,
                result["deliveries_per_s"],
                result["server_cpu_us_per_delivery"],
                result["time_to_all"].get("p50_ms"),
                result["lost_deliveries"],
            )
            rows.append(row)
            print(
                f"{engine:9} {impl:7} {row[2]:10.0f} deliveries/s  {row[3]:6.2f} us CPU/delivery  "
                f"p50 round {row[4]} ms  lost {row[5]}",
                flush=True,
            )
    print("\n| engine | server | deliveries/s | CPU per delivery (both servers) | round p50 |")
    print("|---|---|---|---|---|")
    for engine, impl, rate, cpu, p50, _lost in rows:
        p50_text = f"{p50:.1f} ms" if isinstance(p50, (int, float)) else "-"
        print(f"| {engine} | {impl} | {rate:,.0f} | {cpu:.2f} us | {p50_text} |")


if __name__ == "__main__":
    main()
