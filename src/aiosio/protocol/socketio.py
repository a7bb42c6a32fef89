"""Socket.IO v5 packets: encoder, decoder with binary attachments and strict validation, sans I/O.

Wire format of the text part of a packet::

    <type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]

The namespace is left out when it is ``/``. Examples::

    2["hello",1]                          EVENT on "/"
    2/admin,456["project:delete",123]     EVENT on "/admin" asking for acknowledgement 456
    3/admin,456[]                         ACK 456 on "/admin"
    51-["hello",{"_placeholder":true,"num":0}]   BINARY_EVENT, followed by one binary attachment
    0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}       CONNECT (server to client)
    44/admin,{"message":"Not authorized"}        CONNECT_ERROR
    1/admin,                              DISCONNECT

An event or acknowledgement whose arguments hold ``bytes`` (or ``bytearray`` / ``memoryview``)
anywhere is sent as BINARY_EVENT / BINARY_ACK; decoding gives back an EVENT / ACK packet whose data
holds ``bytes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final, Protocol

import orjson

from .. import _json
from ..exceptions import SocketProtocolError
from .binary import BUFFER_TYPES, collect_buffers, has_binary, reconstruct

__all__ = [
    "DEFAULT_PARSER",
    "MAX_ACK_ID",
    "RESERVED_EVENTS",
    "Decoder",
    "DecoderLike",
    "Encoder",
    "EncoderLike",
    "JsonParser",
    "Packet",
    "PacketType",
    "Parser",
    "ack_args",
    "ack_value",
    "encode_ack_text",
    "encode_event_text",
]


class PacketType(IntEnum):
    """Socket.IO packet types and their wire digits."""

    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


RESERVED_EVENTS: Final = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)
"""Event names a peer may not send: they have a special meaning on one side or the other."""


def ack_value(args: Sequence[Any]) -> Any:
    """The value of received acknowledgement arguments: ``None`` (none), the argument, or a tuple."""
    if not args:
        return None
    if len(args) == 1:
        return args[0]
    return tuple(args)


def ack_args(result: Any) -> list[Any]:
    """A handler's return value as acknowledgement arguments: ``None`` none, a tuple several, else
    one (the inverse of :func:`ack_value`)."""
    if type(result) is tuple:
        return list(result)
    return [] if result is None else [result]


MAX_ACK_ID: Final = 2**53 - 1
"""The largest acknowledgement id accepted (``Number.MAX_SAFE_INTEGER``)."""


@dataclass(slots=True)
class Packet:
    """One Socket.IO packet.

    ``data`` by type: EVENT ``[event_name, *args]``; ACK ``[*args]``; CONNECT a dict or ``None``;
    CONNECT_ERROR ``{"message": str, "data"?: Any}`` (or a bare string from old peers); DISCONNECT
    ``None``. ``id`` is the acknowledgement id, if any.
    """

    type: PacketType
    nsp: str = "/"
    data: Any = None
    id: int | None = None


class EncoderLike(Protocol):
    """What the server needs from an encoder."""

    def encode(self, packet: Packet) -> list[str | bytes]:
        """Encode ``packet`` into the frames to send, in order."""
        ...


class DecoderLike(Protocol):
    """What the server needs from a (per-connection) decoder."""

    def add(self, data: str | bytes) -> Packet | None:
        """Feed one frame; return a complete packet or ``None`` while attachments are awaited."""
        ...

    @property
    def awaiting_attachments(self) -> bool:
        """Whether a binary packet is waiting for more attachments."""
        ...

    def reset(self) -> None:
        """Drop a partial binary packet."""
        ...


class Parser(Protocol):
    """A pluggable packet codec: one shared encoder, one decoder per connection."""

    def encoder(self) -> EncoderLike:
        """Return an encoder (it may be shared)."""
        ...

    def decoder(self) -> DecoderLike:
        """Return a new decoder for one connection."""
        ...


_TYPES: Final = tuple(PacketType)
_TYPE_CHARS: Final = "0123456"
_TYPE_BY_CHAR: Final = {str(int(t)): t for t in PacketType}
_DATA_DIGITS: Final = {
    PacketType.EVENT: ("2", "5"),
    PacketType.BINARY_EVENT: ("2", "5"),
    PacketType.ACK: ("3", "6"),
    PacketType.BINARY_ACK: ("3", "6"),
}
_DIGITS: Final = frozenset("0123456789")
_MAX_ID_DIGITS: Final = len(str(MAX_ACK_ID))
_OPTIONS: Final = orjson.OPT_NON_STR_KEYS
_EVENT: Final = PacketType.EVENT
_ACK: Final = PacketType.ACK
_BINARY_EVENT: Final = PacketType.BINARY_EVENT
_BINARY_ACK: Final = PacketType.BINARY_ACK


def _check_nsp(nsp: str) -> None:
    if not isinstance(nsp, str) or nsp[:1] != "/" or "," in nsp:
        raise ValueError(f"invalid namespace {nsp!r}: must start with '/' and contain no ','")


def _check_id(ack_id: int | None) -> None:
    if ack_id is not None and (type(ack_id) is not int or not 0 <= ack_id <= MAX_ACK_ID):
        raise ValueError(f"invalid ack id {ack_id!r}: must be an int from 0 to 2**53 - 1")


def _head(digit: str, nsp: str, ack_id: int | None) -> str:
    if nsp != "/":
        _check_nsp(nsp)
        digit = f"{digit}{nsp},"
    if ack_id is not None:
        _check_id(ack_id)
        digit = f"{digit}{ack_id}"
    return digit


class _HasBinaryError(Exception):
    """Raised inside orjson when the fast path meets a buffer."""


def _reject_buffers(value: Any) -> Any:
    if isinstance(value, BUFFER_TYPES):
        raise _HasBinaryError
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _encode_text(digit: str, nsp: str, data: list[Any], ack_id: int | None) -> str | None:
    if type(data) is not list and not isinstance(data, (list, tuple)):
        raise TypeError("event and ack data must be a list")
    try:
        body = orjson.dumps(data, default=_reject_buffers, option=_OPTIONS).decode()
    except orjson.JSONEncodeError as exc:
        if isinstance(exc.__cause__, _HasBinaryError) or has_binary(data):
            return None
        body = _json.dumps(data)
    if nsp == "/" and ack_id is None:
        return digit + body
    return _head(digit, nsp, ack_id) + body


def encode_event_text(nsp: str, data: list[Any], ack_id: int | None = None) -> str | None:
    """Return the text of an EVENT packet, or ``None`` if ``data`` holds binary.

    The hot path of ``emit``: one orjson call and no scan for buffers. When this returns ``None``
    the caller encodes the packet with :meth:`Encoder.encode` instead.
    """
    if type(data) is list and nsp == "/" and ack_id is None:  # _encode_text inlined
        try:
            return "2" + orjson.dumps(data, default=_reject_buffers, option=_OPTIONS).decode()
        except orjson.JSONEncodeError:
            pass
    return _encode_text("2", nsp, data, ack_id)


def encode_ack_text(nsp: str, args: list[Any], ack_id: int) -> str | None:
    """Return the text of an ACK packet, or ``None`` if ``args`` holds binary (see above)."""
    return _encode_text("3", nsp, args, ack_id)


class Encoder:
    """Encode packets into frames: the text packet first, then the binary attachments in order.

    Stateless; one instance may serve a whole server. Raises ``ValueError`` / ``TypeError`` for a
    packet that cannot be put on the wire (bad namespace or ack id, data that is not JSON-able).
    """

    __slots__ = ()

    def encode(self, packet: Packet) -> list[str | bytes]:
        """Encode ``packet``; EVENT / ACK data holding buffers becomes BINARY_EVENT / BINARY_ACK."""
        ptype = packet.type
        data = packet.data
        digits = _DATA_DIGITS.get(ptype)
        if digits is None:
            if ptype not in _TYPES:
                raise ValueError(f"unknown packet type {ptype!r}")
            text = _head(_TYPE_CHARS[ptype], packet.nsp, packet.id)
            return [text if data is None else text + _json.dumps(data)]
        if not isinstance(data, (list, tuple)):
            raise TypeError(f"{PacketType(ptype).name} data must be a list, not {data!r}")
        try:
            body = orjson.dumps(data, default=_reject_buffers, option=_OPTIONS)
        except orjson.JSONEncodeError:
            raw, buffers = collect_buffers(data)
            if buffers:
                head = _head(f"{digits[1]}{len(buffers)}-", packet.nsp, packet.id)
                out: list[str | bytes] = [head + raw.decode()]
                out.extend(buffers)
                return out
            body = raw
        return [_head(digits[0], packet.nsp, packet.id) + body.decode()]


def _invalid_payload(ptype: PacketType, payload: Any) -> str | None:
    """Why ``payload`` is not valid for ``ptype``, or ``None`` if it is."""
    if ptype in (_EVENT, _BINARY_EVENT):
        if type(payload) is not list or not payload:
            return "event payload must be a non-empty array"
        name = payload[0]
        if type(name) is str:
            return f"reserved event name {name!r}" if name in RESERVED_EVENTS else None
        if type(name) is int or type(name) is float:
            return None
        return "event name must be a string or a number"
    if ptype in (_ACK, _BINARY_ACK):
        return None if type(payload) is list else "ack payload must be an array"
    if ptype == PacketType.CONNECT:
        return None if type(payload) is dict else "connect payload must be an object"
    if ptype == PacketType.CONNECT_ERROR:
        if type(payload) is str or type(payload) is dict:
            return None
        return "connect_error payload must be a string or an object"
    return "disconnect packet takes no payload"


class Decoder:
    """Decode the frames of one connection into packets, joining binary attachments.

    Feed each frame to :meth:`add`. Any malformed input raises ``SocketProtocolError`` (and drops a
    partial binary packet); the connection should then be closed with reason "parse error".
    ``max_attachments`` bounds the attachments of one packet (the reference default is 10) and
    ``max_buffered_bytes`` (if set) the total size of the attachments held for one packet.
    """

    __slots__ = ("_buffered", "_buffers", "_expected", "_max_attachments", "_max_bytes", "_pending")

    def __init__(self, *, max_attachments: int = 10, max_buffered_bytes: int | None = None) -> None:
        if type(max_attachments) is not int or max_attachments < 0:
            raise ValueError("max_attachments must be a non-negative int")
        if max_buffered_bytes is not None and (
            type(max_buffered_bytes) is not int or max_buffered_bytes < 0
        ):
            raise ValueError("max_buffered_bytes must be a non-negative int or None")
        self._max_attachments = max_attachments
        self._max_bytes = max_buffered_bytes
        self._pending: Packet | None = None
        self._buffers: list[bytes] = []
        self._expected = 0
        self._buffered = 0

    @property
    def awaiting_attachments(self) -> bool:
        """Whether a binary packet has arrived and still waits for attachments."""
        return self._pending is not None

    def reset(self) -> None:
        """Drop a partial binary packet (on connection close, or to recover from an error)."""
        self._pending = None
        self._buffers = []
        self._expected = 0
        self._buffered = 0

    def add(self, data: str | bytes) -> Packet | None:
        """Feed one frame (text packet or binary attachment).

        Returns the complete packet, or ``None`` while a binary packet still waits for attachments.
        Raises ``SocketProtocolError`` on any malformed input.
        """
        if type(data) is str:
            if self._pending is not None:
                self.reset()
                raise SocketProtocolError("got a text packet while reconstructing a binary packet")
            if data.startswith("2["):  # the hot path: an event on "/" without ack id
                try:
                    payload = orjson.loads(data[1:])
                except orjson.JSONDecodeError:
                    raise SocketProtocolError("invalid payload: not JSON") from None
                if (
                    type(payload) is not list
                    or not payload
                    or type(payload[0]) is not str
                    or payload[0] in RESERVED_EVENTS
                ):
                    reason = _invalid_payload(_EVENT, payload)
                    if reason is not None:
                        raise SocketProtocolError(f"invalid payload: {reason}")
                return Packet(_EVENT, "/", payload)
            return self._decode_text(data)
        if isinstance(data, BUFFER_TYPES):
            return self._add_attachment(bytes(data))
        if isinstance(data, str):
            return self.add(str(data))
        raise SocketProtocolError(f"unexpected frame of type {type(data).__name__}")

    def _add_attachment(self, buffer: bytes) -> Packet | None:
        packet = self._pending
        if packet is None:
            raise SocketProtocolError("got binary data when not reconstructing a packet")
        self._buffered += len(buffer)
        if self._max_bytes is not None and self._buffered > self._max_bytes:
            self.reset()
            raise SocketProtocolError("binary attachments exceed the buffer limit")
        buffers = self._buffers
        buffers.append(buffer)
        if len(buffers) < self._expected:
            return None
        self.reset()
        packet.data = reconstruct(packet.data, buffers)
        return packet

    def _decode_text(self, text: str) -> Packet | None:
        size = len(text)
        if not size:
            raise SocketProtocolError("empty packet")
        ptype = _TYPE_BY_CHAR.get(text[0])
        if ptype is None:
            raise SocketProtocolError(f"unknown packet type {text[0]!r}")
        index = 1
        attachments = 0
        if ptype in (_BINARY_EVENT, _BINARY_ACK):
            dash = text.find("-", 1, 12)
            count = text[1:dash]
            if dash < 0 or not count or not _DIGITS.issuperset(count):
                raise SocketProtocolError("illegal attachments")
            attachments = int(count)
            if attachments < 1:
                raise SocketProtocolError("illegal attachments")
            if attachments > self._max_attachments:
                raise SocketProtocolError("too many attachments")
            index = dash + 1

        nsp = "/"
        if index < size and text[index] == "/":
            comma = text.find(",", index)
            if comma < 0:
                nsp = text[index:]
                index = size
            else:
                nsp = text[index:comma]
                index = comma + 1

        ack_id = None
        if index < size and text[index] in _DIGITS:
            end = index + 1
            while end < size and text[end] in _DIGITS:
                end += 1
            if end - index > _MAX_ID_DIGITS:
                raise SocketProtocolError("invalid ack id: too large")
            ack_id = int(text[index:end])
            if ack_id > MAX_ACK_ID:
                raise SocketProtocolError("invalid ack id: too large")
            index = end

        if index < size:
            try:
                payload = orjson.loads(text[index:])
            except orjson.JSONDecodeError:
                raise SocketProtocolError("invalid payload: not JSON") from None
            reason = _invalid_payload(ptype, payload)
            if reason is not None:
                raise SocketProtocolError(f"invalid payload: {reason}")
        elif ptype == PacketType.CONNECT or ptype == PacketType.DISCONNECT:
            payload = None
        else:
            raise SocketProtocolError(f"invalid payload: {ptype.name} packet needs a payload")

        if attachments:
            self._pending = Packet(_EVENT if ptype == _BINARY_EVENT else _ACK, nsp, payload, ack_id)
            self._expected = attachments
            return None
        return Packet(ptype, nsp, payload, ack_id)


class JsonParser:
    """The default parser: JSON text packets with binary attachments (npm ``socket.io-parser``)."""

    __slots__ = ("_encoder", "max_attachments", "max_buffered_bytes")

    def __init__(self, *, max_attachments: int = 10, max_buffered_bytes: int | None = None) -> None:
        Decoder(max_attachments=max_attachments, max_buffered_bytes=max_buffered_bytes)  # validate
        self.max_attachments = max_attachments
        self.max_buffered_bytes = max_buffered_bytes
        self._encoder = Encoder()

    def encoder(self) -> Encoder:
        """Return the shared (stateless) encoder."""
        return self._encoder

    def decoder(self) -> Decoder:
        """Return a new decoder for one connection."""
        return Decoder(
            max_attachments=self.max_attachments, max_buffered_bytes=self.max_buffered_bytes
        )


DEFAULT_PARSER: Final[Parser] = JsonParser()
"""The JSON parser with the reference's defaults."""
