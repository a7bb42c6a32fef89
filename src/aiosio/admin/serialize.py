"""What the Admin UI receives: sockets serialized as the reference does, and aggregated counts."""

from __future__ import annotations

import time
from dataclasses import asdict, is_dataclass
from typing import Any

__all__ = ["ADMIN_KEY", "EventBuffer", "js_now", "serialize_data", "serialize_socket"]

#: The key of ``socket.data`` holding what the UI needs about a socket on any node (as the reference).
ADMIN_KEY = "_admin"


def js_now() -> str:
    """The current time as JavaScript's ``Date`` serializes to JSON (``2024-01-02T03:04:05.678Z``)."""
    now = time.time()
    millis = int(now * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{millis:03d}Z"


def serialize_data(data: Any) -> Any:
    """``socket.data`` without the admin's own entry."""
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if k != ADMIN_KEY}
    return data


def _handshake_dict(handshake: Any) -> dict[str, Any]:
    if isinstance(handshake, dict):
        return handshake
    if is_dataclass(handshake) and not isinstance(handshake, type):
        return asdict(handshake)
    return {}


def serialize_socket(socket: Any, nsp: str) -> dict[str, Any]:
    """One socket (local or remote) as the UI's ``SerializedSocket``."""
    data = socket.data
    admin = data.get(ADMIN_KEY) if isinstance(data, dict) else None
    admin = admin if isinstance(admin, dict) else {}
    handshake = _handshake_dict(socket.handshake)
    headers = handshake.get("headers") or {}
    address = (
        headers.get("cf-connecting-ip")
        or headers.get("x-forwarded-for")
        or handshake.get("address", "")
    )
    return {
        "id": socket.id,
        "clientId": admin.get("clientId"),
        "transport": admin.get("transport"),
        "nsp": nsp,
        "data": serialize_data(data),
        "handshake": {
            "address": address,
            "headers": headers,
            "query": handshake.get("query", {}),
            "issued": handshake.get("issued"),
            "secure": handshake.get("secure"),
            "time": handshake.get("time"),
            "url": handshake.get("url"),
            "xdomain": handshake.get("xdomain"),
        },
        "rooms": sorted(socket.rooms),
    }


class EventBuffer:
    """Counts per second and kind (``rawConnection``, ``packetsIn``, ``bytesOut``, ...), sent with the
    stats and cleared (the reference's aggregated events)."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer: dict[tuple[int, str, str | None], int] = {}

    def push(self, kind: str, sub_kind: str | None = None, count: int = 1) -> None:
        """Add ``count`` to this second's ``kind`` / ``sub_kind`` entry."""
        key = (int(time.time()) * 1000, kind, sub_kind)
        buffer = self._buffer
        buffer[key] = buffer.get(key, 0) + count

    def take(self) -> list[dict[str, Any]]:
        """The entries, as the UI reads them, and clear."""
        values: list[dict[str, Any]] = []
        for (timestamp, kind, sub_kind), count in self._buffer.items():
            entry: dict[str, Any] = {"timestamp": timestamp, "type": kind, "count": count}
            if sub_kind is not None:
                entry["subType"] = sub_kind
            values.append(entry)
        self._buffer.clear()
        return values
