"""Values as the Node adapters put them on the wire: packets, broadcast options, msgpack and JSON.

Every cluster message is a plain dict with the reference's field names (``uid``, ``nsp``, ``type``,
``data``, ``requestId``, ``opts``, ``rooms``, ``except``, ``flags``...). Times inside flags are integer
milliseconds, as in Node; aiosio's own API speaks float seconds.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

import msgpack

from aiosio import _json
from aiosio.adapters.base import NO_FLAGS, BroadcastFlags, BroadcastOptions
from aiosio.protocol.socketio import Packet, PacketType

__all__ = [
    "decode_json_or_msgpack",
    "flags_from_wire",
    "flags_to_wire",
    "handshake_to_wire",
    "has_binary",
    "new_uid",
    "opts_from_wire",
    "opts_to_wire",
    "pack",
    "packet_from_wire",
    "packet_to_wire",
    "rooms_from_wire",
    "unpack",
]

_EVENT = int(PacketType.EVENT)
_BINARY_EVENT = int(PacketType.BINARY_EVENT)


def new_uid(nbytes: int = 8) -> str:
    """A random server id: ``2 * nbytes`` hex digits (the reference cluster adapter uses 8 bytes)."""
    return secrets.token_hex(nbytes)


# -- msgpack ---------------------------------------------------------------------------------------


def _ext_hook(code: int, data: bytes) -> Any:
    # notepack.io once encoded `undefined` as fixext 0; anything else unknown is dropped as well
    return None


def pack(value: Any) -> bytes:
    """msgpack-encode ``value``: ``bytes`` as bin, ``str`` as str (like notepack.io / @msgpack/msgpack)."""
    data: bytes = msgpack.packb(value, use_bin_type=True, default=_pack_default)
    return data


def _pack_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"cannot encode {type(value).__name__} for the cluster")


def unpack(data: bytes) -> Any:
    """msgpack-decode ``data`` (raises ``ValueError`` on malformed input)."""
    try:
        return msgpack.unpackb(
            data, raw=False, ext_hook=_ext_hook, strict_map_key=False, timestamp=3
        )
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise ValueError(f"malformed msgpack: {exc}") from exc


def decode_json_or_msgpack(data: bytes) -> Any:
    """What the Node adapters do with a payload: JSON when it starts with ``{``, msgpack otherwise."""
    if data[:1] == b"{":
        return _json.loads(data)
    return unpack(data)


def has_binary(value: Any) -> bool:
    """True when ``value`` holds ``bytes`` somewhere (the payload then travels as msgpack)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return True
    if isinstance(value, (list, tuple)):
        return any(has_binary(item) for item in value)
    if isinstance(value, dict):
        return any(has_binary(item) for item in value.values())
    return False


# -- packets ---------------------------------------------------------------------------------------


def packet_to_wire(packet: Packet) -> dict[str, Any]:
    """A Socket.IO packet as the Node adapters carry it: ``{type, data, nsp[, id]}``."""
    out: dict[str, Any] = {"type": int(packet.type), "data": packet.data, "nsp": packet.nsp}
    if packet.id is not None:
        out["id"] = packet.id
    return out


def packet_from_wire(value: Any, default_nsp: str = "/") -> Packet | None:
    """The inverse of :func:`packet_to_wire`; ``None`` when ``value`` is not an EVENT packet."""
    if not isinstance(value, dict):
        return None
    kind = value.get("type")
    data = value.get("data")
    if kind not in (_EVENT, _BINARY_EVENT) or not isinstance(data, list) or not data:
        return None
    nsp = value.get("nsp", default_nsp)
    if not isinstance(nsp, str):
        return None
    # binary attachments travel in place (msgpack), the encoder decides EVENT vs BINARY_EVENT again
    return Packet(PacketType.EVENT, nsp, data)


# -- broadcast options -----------------------------------------------------------------------------


def flags_to_wire(flags: BroadcastFlags) -> dict[str, Any]:
    """Flags with the reference's names; ``timeout`` in integer milliseconds; defaults left out.

    ``local`` is never sent: a local operation does not leave its server.
    """
    out: dict[str, Any] = {}
    if flags.volatile:
        out["volatile"] = True
    if flags.compress is not None:
        out["compress"] = flags.compress
    if flags.timeout is not None:
        out["timeout"] = round(flags.timeout * 1000)
    if flags.expect_single_response:
        out["expectSingleResponse"] = True
    return out


def flags_from_wire(value: Any) -> BroadcastFlags:
    """The inverse of :func:`flags_to_wire` (``local`` is dropped: a remote order is never local)."""
    if not isinstance(value, dict) or not value:
        return NO_FLAGS
    compress = value.get("compress")
    timeout = value.get("timeout")
    return BroadcastFlags(
        volatile=bool(value.get("volatile")),
        compress=bool(compress) if compress is not None else None,
        timeout=timeout / 1000 if isinstance(timeout, (int, float)) and timeout >= 0 else None,
        expect_single_response=bool(value.get("expectSingleResponse")),
    )


def rooms_from_wire(value: Any) -> frozenset[str]:
    """A list of room names from a peer; numbers become their text, anything else is dropped."""
    if not isinstance(value, (list, tuple)):
        return frozenset()
    rooms: set[str] = set()
    for room in value:
        if isinstance(room, str):
            rooms.add(room)
        elif isinstance(room, int) and not isinstance(room, bool):
            rooms.add(str(room))
        elif isinstance(room, float) and room.is_integer():
            rooms.add(str(int(room)))
    return frozenset(rooms)


def _room_list(rooms: Iterable[str]) -> list[str]:
    return sorted(rooms)


def opts_to_wire(opts: BroadcastOptions, *, with_flags: bool = True) -> dict[str, Any]:
    """``{rooms, except, flags}`` (``flags`` omitted when ``with_flags`` is false)."""
    out: dict[str, Any] = {"rooms": _room_list(opts.rooms), "except": _room_list(opts.except_)}
    if with_flags:
        out["flags"] = flags_to_wire(opts.flags)
    return out


def opts_from_wire(value: Any) -> BroadcastOptions:
    """The inverse of :func:`opts_to_wire`; a missing or malformed part counts as empty."""
    if not isinstance(value, dict):
        return BroadcastOptions()
    return BroadcastOptions(
        rooms=rooms_from_wire(value.get("rooms")),
        except_=rooms_from_wire(value.get("except")),
        flags=flags_from_wire(value.get("flags")),
    )


def handshake_to_wire(handshake: Any) -> Any:
    """A local socket's handshake as a JSON-able dict with the reference's field names."""
    to_dict = getattr(handshake, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    return handshake
