"""Binary attachments of Socket.IO packets: placeholders out, buffers back in.

An event or acknowledgement whose arguments hold ``bytes`` travels as a text packet in which each
buffer is replaced by ``{"_placeholder":true,"num":N}``, followed by the buffers themselves in order
``N = 0, 1, ...`` (depth first, list order, dict insertion order).
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from .. import _json
from ..exceptions import SocketProtocolError

__all__ = ["BUFFER_TYPES", "collect_buffers", "has_binary", "reconstruct", "replace_buffers"]

BUFFER_TYPES: Final = (bytes, bytearray, memoryview)
"""The Python types sent as binary attachments."""

_OPTIONS: Final = orjson.OPT_NON_STR_KEYS


class _Collector:
    """An orjson ``default`` hook that swaps each buffer for a placeholder and keeps the buffer."""

    __slots__ = ("buffers",)

    def __init__(self) -> None:
        self.buffers: list[bytes] = []

    def __call__(self, value: Any) -> Any:
        if isinstance(value, BUFFER_TYPES):
            buffers = self.buffers
            buffers.append(bytes(value))
            return {"_placeholder": True, "num": len(buffers) - 1}
        if isinstance(value, (set, frozenset)):
            return list(value)
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def collect_buffers(data: Any) -> tuple[bytes, list[bytes]]:
    """Encode ``data`` as compact UTF-8 JSON with placeholders; return it and the buffers."""
    collector = _Collector()
    try:
        return orjson.dumps(data, default=collector, option=_OPTIONS), collector.buffers
    except orjson.JSONEncodeError:
        # What orjson refuses (integers beyond 64 bits, ...): replace buffers in Python, then let
        # the shared JSON helper fall back to the standard library (or raise TypeError).
        buffers: list[bytes] = []
        return _json.dumps(replace_buffers(data, buffers)).encode(), buffers


def replace_buffers(data: Any, buffers: list[bytes]) -> Any:
    """Copy ``data`` with each buffer replaced by a placeholder; the buffers go to ``buffers``."""
    if isinstance(data, BUFFER_TYPES):
        buffers.append(bytes(data))
        return {"_placeholder": True, "num": len(buffers) - 1}
    if isinstance(data, (list, tuple)):
        return [replace_buffers(item, buffers) for item in data]
    if isinstance(data, dict):
        return {key: replace_buffers(value, buffers) for key, value in data.items()}
    return data


def has_binary(data: Any) -> bool:
    """Whether ``data`` holds a buffer anywhere inside lists, tuples or dicts."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, BUFFER_TYPES):
            return True
        if isinstance(node, (list, tuple)):
            stack.extend(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
    return False


def _take(placeholder: dict[str, Any], buffers: list[bytes]) -> bytes:
    num = placeholder.get("num")
    if type(num) is not int or not 0 <= num < len(buffers):
        raise SocketProtocolError(f"illegal attachments: placeholder num {num!r} is out of range")
    return buffers[num]


def reconstruct(data: Any, buffers: list[bytes]) -> Any:
    """Put ``buffers`` back in place of the placeholders of decoded JSON ``data`` (in place).

    Raises ``SocketProtocolError`` for a placeholder whose ``num`` is not an index into ``buffers``.
    Iterative, so deeply nested input cannot exhaust the Python stack.
    """
    if type(data) is dict and data.get("_placeholder") is True:
        return _take(data, buffers)
    stack: list[Any] = [data]
    while stack:
        node = stack.pop()
        if type(node) is list:
            items: Any = enumerate(node)
        elif type(node) is dict:
            items = node.items()
        else:
            continue
        for key, value in items:
            if type(value) is dict:
                if value.get("_placeholder") is True:
                    node[key] = _take(value, buffers)
                else:
                    stack.append(value)
            elif type(value) is list:
                stack.append(value)
    return data
