"""A Socket.IO parser compatible with npm ``socket.io-msgpack-parser``, sans I/O.

Each packet is one binary frame: a MessagePack map ``{"type", "data", "nsp", "id"?}`` with the
packet type 0-4 (there are no BINARY_* types: buffers travel inside the map as MessagePack ``bin``).
Both peers must use this parser. Needs the ``msgpack`` package (the ``aiosio[msgpack]`` extra).

notepack.io 3 (used by the npm parser) writes buffers as ``bin`` and leaves ``undefined`` keys out.
Older notepack.io wrote ``undefined`` as the extension ``fixext 1`` of type 0 and an ``ArrayBuffer``
as an extension of type 0 holding its bytes: the decoder reads the first as ``None`` and the second
as ``bytes``.
"""

from __future__ import annotations

from typing import Any, Final

import msgpack

from ..exceptions import SocketProtocolError
from .socketio import MAX_ACK_ID, Packet, PacketType, _invalid_payload

__all__ = ["MSGPACK_PARSER", "MsgpackDecoder", "MsgpackEncoder", "MsgpackParser"]

_TYPES: Final = (
    PacketType.CONNECT,
    PacketType.DISCONNECT,
    PacketType.EVENT,
    PacketType.ACK,
    PacketType.CONNECT_ERROR,
)
_WIRE_TYPE: Final = {
    PacketType.CONNECT: 0,
    PacketType.DISCONNECT: 1,
    PacketType.EVENT: 2,
    PacketType.ACK: 3,
    PacketType.CONNECT_ERROR: 4,
    PacketType.BINARY_EVENT: 2,
    PacketType.BINARY_ACK: 3,
}


def _default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, int):
        raise ValueError(f"integer {value} does not fit in 64 bits")
    raise TypeError(f"Object of type {type(value).__name__} cannot be packed")


def _ext_hook(code: int, data: bytes) -> Any:
    if code == 0:
        # notepack.io: fixext 1 of type 0 is `undefined`, any other type-0 extension an ArrayBuffer.
        return None if data == b"\x00" else data
    return msgpack.ExtType(code, data)


class MsgpackEncoder:
    """Encode a packet as one MessagePack frame; one instance may serve a whole server."""

    __slots__ = ("_packer",)

    def __init__(self) -> None:
        self._packer = msgpack.Packer(use_bin_type=True, default=_default, autoreset=True)

    def encode(self, packet: Packet) -> list[str | bytes]:
        """Encode ``packet``; raises ``ValueError`` / ``TypeError`` for what cannot be sent."""
        wire_type = _WIRE_TYPE.get(packet.type)
        if wire_type is None:
            raise ValueError(f"unknown packet type {packet.type!r}")
        nsp = packet.nsp
        if not isinstance(nsp, str) or nsp[:1] != "/":
            raise ValueError(f"invalid namespace {nsp!r}: must start with '/'")
        obj: dict[str, Any] = {"type": wire_type}
        if packet.data is not None:
            obj["data"] = packet.data
        obj["nsp"] = nsp
        ack_id = packet.id
        if ack_id is not None:
            if type(ack_id) is not int or not 0 <= ack_id <= MAX_ACK_ID:
                raise ValueError(f"invalid ack id {ack_id!r}: must be an int from 0 to 2**53 - 1")
            obj["id"] = ack_id
        try:
            frame: bytes = self._packer.pack(obj)
        except OverflowError as exc:
            raise ValueError(str(exc)) from exc
        return [frame]


class MsgpackDecoder:
    """Decode MessagePack frames into packets; raises ``SocketProtocolError`` on malformed input."""

    __slots__ = ()

    @property
    def awaiting_attachments(self) -> bool:
        """Always ``False``: this format has no separate attachments."""
        return False

    def reset(self) -> None:
        """Nothing to drop: every frame is a whole packet."""

    def add(self, data: str | bytes) -> Packet:
        """Decode one binary frame into a packet."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise SocketProtocolError("expected a binary frame")
        try:
            obj = msgpack.unpackb(data, raw=False, ext_hook=_ext_hook, strict_map_key=True)
        except Exception as exc:  # the unpacker raises many types on hostile input
            raise SocketProtocolError(f"could not parse MessagePack: {exc}") from None
        if type(obj) is not dict:
            raise SocketProtocolError("invalid packet type")
        wire_type = obj.get("type")
        if type(wire_type) is not int or not 0 <= wire_type <= 4:
            raise SocketProtocolError("invalid packet type")
        ptype = _TYPES[wire_type]
        nsp = obj.get("nsp")
        if type(nsp) is not str or nsp[:1] != "/":
            raise SocketProtocolError("invalid namespace")
        payload = obj.get("data")
        if payload is None:
            if ptype not in (PacketType.CONNECT, PacketType.DISCONNECT):
                raise SocketProtocolError(f"invalid payload: {ptype.name} packet needs a payload")
        else:
            reason = _invalid_payload(ptype, payload)
            if reason is not None:
                raise SocketProtocolError(f"invalid payload: {reason}")
        ack_id = obj.get("id")
        if ack_id is not None and (type(ack_id) is not int or not 0 <= ack_id <= MAX_ACK_ID):
            raise SocketProtocolError("invalid packet id")
        return Packet(ptype, nsp, payload, ack_id)


class MsgpackParser:
    """The ``socket.io-msgpack-parser`` format: one MessagePack frame per packet."""

    __slots__ = ("_encoder",)

    def __init__(self) -> None:
        self._encoder = MsgpackEncoder()

    def encoder(self) -> MsgpackEncoder:
        """Return the shared encoder."""
        return self._encoder

    def decoder(self) -> MsgpackDecoder:
        """Return a decoder (stateless, but one per connection keeps the contract)."""
        return MsgpackDecoder()


MSGPACK_PARSER: Final = MsgpackParser()
"""A ready :class:`MsgpackParser`."""
