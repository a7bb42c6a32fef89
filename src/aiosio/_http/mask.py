"""XOR-unmasking of WebSocket payloads (RFC 6455 section 5.3).

Clients mask every frame, so the server unmasks every byte it receives. The C helper that ships
with the ``websockets`` package does 64 KiB in about a microsecond; the pure-Python fallback XORs
two big integers (far slower, yet 25 times faster than a byte loop). See docs/embedded-server.md.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["IMPLEMENTATION", "apply_mask", "apply_mask_python"]

Buffer = bytes | bytearray | memoryview


def apply_mask_python(data: Buffer, mask: bytes | bytearray) -> bytes:
    """XOR ``data`` with the 4-byte ``mask`` repeated, without a Python-level byte loop."""
    size = len(data)
    if size == 0:
        return b""
    key = (bytes(mask) * ((size + 3) >> 2))[:size]
    value = int.from_bytes(data, "little") ^ int.from_bytes(key, "little")
    return value.to_bytes(size, "little")


def _select() -> tuple[Callable[[Buffer, bytes | bytearray], bytes], str]:
    try:
        from websockets.speedups import apply_mask as c_apply_mask
    except ImportError:  # pragma: no cover - depends on the installed packages
        return apply_mask_python, "python"
    return c_apply_mask, "websockets.speedups"


#: ``apply_mask(data, mask) -> bytes``: the fastest implementation available.
apply_mask: Callable[[Buffer, bytes | bytearray], bytes]
#: Which implementation :data:`apply_mask` is (``"websockets.speedups"`` or ``"python"``).
IMPLEMENTATION: str
apply_mask, IMPLEMENTATION = _select()
