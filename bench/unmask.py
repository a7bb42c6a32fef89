"""Unmasking one client frame: the C helper vs. the big-integer XOR vs. a Python byte loop."""

from __future__ import annotations

import os
import timeit
from collections.abc import Callable

from aiosio._http.mask import apply_mask_python

Mask = Callable[[bytes, bytes], bytes]


def byte_loop(data: bytes, mask: bytes) -> bytes:
    return bytes(b ^ mask[i & 3] for i, b in enumerate(data))


def per_call(fn: Mask, data: bytes, mask: bytes, number: int) -> float:
    return min(timeit.repeat(lambda: fn(data, mask), number=number, repeat=3)) / number


def main() -> None:
    from websockets.speedups import apply_mask as c_mask

    mask = os.urandom(4)
    big = os.urandom(65536)
    small = os.urandom(30)
    methods: list[tuple[str, Mask, int]] = [
        ("websockets.speedups", c_mask, 20000),
        ("int.from_bytes XOR", apply_mask_python, 2000),
        ("python byte loop", byte_loop, 20),
    ]
    expected = byte_loop(big, mask)
    for name, fn, number in methods:
        assert fn(big, mask) == expected
        large = per_call(fn, big, mask, number) * 1e6
        tiny = per_call(fn, small, mask, number * 10) * 1e9
        print(f"{name:22} {large:9.1f} us / 64 KiB {tiny:9.0f} ns / 30 B")


if __name__ == "__main__":
    main()
