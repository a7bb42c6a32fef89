"""The cost of typed events: an acknowledged echo with and without pydantic validation.

    python bench/typed_echo.py [-n N]

Through one in-process test client (``aiosio.testing``: the real client and server, no sockets), the
same payload is echoed by three handlers: ``plain`` (no annotations), ``annotated`` (``dict``: not
wrapped, so it must cost the same as plain) and ``validated`` (a pydantic model in, the model returned
and serialized by the JSON codec). The three alternate within each round; best of 7 rounds, µs per
round trip. Then, without any I/O, the cost of the validating wrapper itself and of encoding the
returned model (timeit, best of 5): the part of the difference that is validation's own.
The wrapper dumps a returned model to plain data itself, so the encoder's fast path applies.
"""

from __future__ import annotations

import argparse
import time
import timeit
from typing import Any

import pydantic
import uvloop

import aiosio
import aiosio.testing
from aiosio._typed import validating
from aiosio.protocol.socketio import encode_ack_text

PAYLOAD = {"id": 1, "text": "hello, world", "n": [1, 2, 3]}


class Message(pydantic.BaseModel):
    id: int
    text: str
    n: list[int]


def plain(*args):  # type: ignore[no-untyped-def]
    return args[0]


def annotated(data: dict[str, Any]) -> dict[str, Any]:
    return data


def validated(data: Message) -> Message:
    return data


def make_server() -> aiosio.Server:
    io = aiosio.Server()

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.on("plain", plain)
        socket.on("annotated", annotated)
        socket.on("validated", validated)

    return io


async def rate(client: aiosio.testing.TestClient, event: str, n: int) -> float:
    """Microseconds per acknowledged round trip."""
    start = time.perf_counter()
    for _ in range(n):
        await client.emit_with_ack(event, PAYLOAD, timeout=None)
    return (time.perf_counter() - start) / n * 1e6


async def main(n: int) -> None:
    io = make_server()
    async with aiosio.testing.connect(io) as client:
        assert await client.emit_with_ack("validated", PAYLOAD) == PAYLOAD
        results: dict[str, float] = {}
        for _ in range(7):
            for event in ("plain", "annotated", "validated"):
                micros = await rate(client, event, n)
                results[event] = min(results.get(event, micros), micros)
    await io.close()
    for event, micros in results.items():
        print(f"{event:<10} {micros:7.1f} µs per acknowledged echo")
    extra = results["validated"] - results["plain"]
    print(f"validated - plain: {extra:.1f} µs ({results['validated'] / results['plain']:.2f}x)")

    wrapper = validating(validated)
    assert wrapper(PAYLOAD) == PAYLOAD  # validated in, serialized out

    def best(stmt: Any) -> float:
        return min(timeit.repeat(stmt, number=20000, repeat=5)) / 20000 * 1e6

    call_plain = best(lambda: plain(PAYLOAD))  # type: ignore[no-untyped-call]
    call_validated = best(lambda: wrapper(PAYLOAD))
    encode_model = best(lambda: encode_ack_text("/", [Message.model_validate(PAYLOAD)], 1))
    encode_dict = best(lambda: encode_ack_text("/", [PAYLOAD], 1))
    print(f"handler call: plain {call_plain:.2f} µs, validating wrapper {call_validated:.2f} µs")
    print(f"(the returned model is dumped by the wrapper: {encode_model - encode_dict:.2f} µs")
    print(" more if it reached the encoder as a model, through the JSON codec's hook)")
    print(f"validation's own cost: {call_validated - call_plain:.1f} µs per validated echo")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=5000)
    uvloop.run(main(parser.parse_args().n))
