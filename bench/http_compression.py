"""What ``http_compression`` costs and saves per polling response: CPU time and bytes on the wire.

    .venv/bin/python bench/http_compression.py

Payloads are Engine.IO polling payloads of Socket.IO events carrying JSON objects (chat-like
messages), the kind of response the option compresses.
"""

from __future__ import annotations

import json
import time

from aiosio.engine.compression import HttpCompression


def payload(size: int) -> bytes:
    """A polling payload of about ``size`` bytes: events joined with the record separator."""
    events = []
    total = 0
    i = 0
    while total < size:
        body = json.dumps(
            [
                "message",
                {"id": i, "user": f"user{i % 50}", "text": f"hello number {i} from the room"},
            ],
            separators=(",", ":"),
        )
        events.append("42" + body)
        total += len(events[-1]) + 1
        i += 1
    return "\x1e".join(events).encode()


def main() -> None:
    policy = HttpCompression()
    print(f"{'payload':>9} {'encoding':>8} {'ratio':>6} {'us/response':>12}")
    for size in (1024, 10_000, 100_000, 1_000_000):
        body = payload(size)
        for accept in ("gzip", "deflate"):
            runs = max(5, 2_000_000 // size)
            start = time.process_time()
            for _ in range(runs):
                out, encoding = policy.apply(accept, body)
            elapsed = (time.process_time() - start) / runs
            print(
                f"{len(body):>9} {encoding:>8} {len(body) / len(out):>6.1f} {elapsed * 1e6:>12.0f}"
            )


if __name__ == "__main__":
    main()
