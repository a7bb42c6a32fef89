"""permessage-deflate (RFC 7692), sans-I/O: the server's negotiation and one connection's codec.

:func:`negotiate` reads a client's ``Sec-WebSocket-Extensions`` offers and returns the codec for
the first one the server can honour (its :attr:`Deflate.response` is the header to answer with), or
``None`` when every offer is declined. :class:`Deflate` compresses outgoing messages and inflates
incoming ones; inflating stops one byte past the message limit, so a small frame that would inflate
to gigabytes (a deflate bomb) costs no more memory than the limit.
"""

from __future__ import annotations

import zlib
from typing import Protocol

from aiosio._http.frames import FrameError
from aiosio.engine.deflate import PerMessageDeflate

__all__ = ["EXTENSION", "Deflate", "negotiate", "parse_extensions"]

EXTENSION = "permessage-deflate"
#: What a sync flush ends with; RFC 7692 section 7.2.1 drops it from the wire and 7.2.2 adds it back.
_TAIL = b"\x00\x00\xff\xff"
_PARAMS = frozenset(
    {
        "server_no_context_takeover",
        "client_no_context_takeover",
        "server_max_window_bits",
        "client_max_window_bits",
    }
)


def _split(text: str, separator: str) -> list[str]:
    """``text`` split at ``separator`` outside double-quoted strings."""
    parts: list[str] = []
    start = 0
    quoted = False
    escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def parse_extensions(header: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """The offers of a ``Sec-WebSocket-Extensions`` value: (name, [(param, value or None)])."""
    offers: list[tuple[str, list[tuple[str, str | None]]]] = []
    for item in _split(header, ","):
        name, *raw_params = (part.strip() for part in _split(item, ";"))
        if not name:
            continue
        params: list[tuple[str, str | None]] = []
        for raw in raw_params:
            key, eq, value = raw.partition("=")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            params.append((key.strip().lower(), value if eq else None))
        offers.append((name.lower(), params))
    return offers


def _bits(value: str | None, low: int) -> int | None:
    """A window-bits value, or None when it is not a plain number in ``low``-15."""
    if value is None or not value.isdigit() or len(value) > 2:
        return None
    bits = int(value)
    return bits if low <= bits <= 15 else None


def _accept(params: list[tuple[str, str | None]], options: PerMessageDeflate) -> Deflate | None:
    """The codec for one offer, or None if the server declines it."""
    seen: dict[str, str | None] = {}
    for key, value in params:
        if key not in _PARAMS or key in seen:
            return None  # unknown or repeated parameter: RFC 7692 section 7 declines the offer
        seen[key] = value
    answer = [EXTENSION]
    server_takeover = not options.server_no_context_takeover
    if "server_no_context_takeover" in seen:
        if seen["server_no_context_takeover"] is not None:
            return None
        server_takeover = False
    if not server_takeover:
        answer.append("server_no_context_takeover")
    client_takeover = not options.client_no_context_takeover
    if "client_no_context_takeover" in seen:
        if seen["client_no_context_takeover"] is not None:
            return None
        client_takeover = False  # the client's hint, made binding by naming it in the answer
    if not client_takeover:
        answer.append("client_no_context_takeover")
    server_bits = options.server_max_window_bits or 15
    if "server_max_window_bits" in seen:
        # zlib cannot deflate with an 8-bit window (it would use 9): an offer needing 8 is declined.
        asked = _bits(seen["server_max_window_bits"], 9)
        if asked is None:
            return None
        server_bits = min(server_bits, asked)
        answer.append(f"server_max_window_bits={server_bits}")
    elif options.server_max_window_bits is not None:
        answer.append(f"server_max_window_bits={server_bits}")
    client_bits = 15
    if "client_max_window_bits" in seen:
        raw = seen["client_max_window_bits"]
        offered = 15 if raw is None else _bits(raw, 8)
        if offered is None:
            return None
        client_bits = min(offered, options.client_max_window_bits or 15)
        if raw is not None or options.client_max_window_bits is not None:
            answer.append(f"client_max_window_bits={client_bits}")
    elif options.client_max_window_bits is not None:
        return None  # the client cannot be asked for a smaller window: decline
    return Deflate(
        "; ".join(answer),
        threshold=options.threshold,
        level=options.level,
        mem_level=options.mem_level,
        server_bits=server_bits,
        client_bits=client_bits,
        server_takeover=server_takeover,
        client_takeover=client_takeover,
    )


def negotiate(header: str, options: PerMessageDeflate) -> Deflate | None:
    """The codec for the first permessage-deflate offer in ``header`` the server accepts."""
    for name, params in parse_extensions(header):
        if name == EXTENSION:
            deflate = _accept(params, options)
            if deflate is not None:
                return deflate
    return None


class _Compressor(Protocol):
    """What ``zlib.compressobj()`` returns."""

    def compress(self, data: bytes, /) -> bytes: ...
    def flush(self, mode: int = ..., /) -> bytes: ...


class _Decompressor(Protocol):
    """What ``zlib.decompressobj()`` returns."""

    @property
    def unconsumed_tail(self) -> bytes: ...
    @property
    def eof(self) -> bool: ...
    def decompress(self, data: bytes, /, max_length: int = ...) -> bytes: ...


class Deflate:
    """One connection's permessage-deflate state, as negotiated.

    The compressor and decompressor are made on first use and kept only with context takeover, so
    a connection whose messages stay under the threshold holds neither.
    """

    __slots__ = (
        "_compressor",
        "_decompressor",
        "client_bits",
        "client_takeover",
        "level",
        "mem_level",
        "response",
        "server_bits",
        "server_takeover",
        "threshold",
    )

    def __init__(
        self,
        response: str,
        *,
        threshold: int = 1024,
        level: int = zlib.Z_DEFAULT_COMPRESSION,
        mem_level: int = 8,
        server_bits: int = 15,
        client_bits: int = 15,
        server_takeover: bool = True,
        client_takeover: bool = True,
    ) -> None:
        #: The ``Sec-WebSocket-Extensions`` value of the 101 answer.
        self.response = response
        #: Outgoing messages shorter than this (in bytes) are sent uncompressed.
        self.threshold = threshold
        self.level = level
        self.mem_level = mem_level
        self.server_bits = server_bits
        self.client_bits = client_bits
        self.server_takeover = server_takeover
        self.client_takeover = client_takeover
        self._compressor: _Compressor | None = None
        self._decompressor: _Decompressor | None = None

    @property
    def shared_key(self) -> tuple[int, int, int, int] | None:
        """Connections with equal keys compress a message to the same bytes (no context takeover:
        each message is compressed on its own), so a broadcast is compressed once for all of them;
        ``None`` with context takeover."""
        if self.server_takeover:
            return None
        return (self.threshold, self.level, self.mem_level, self.server_bits)

    def compress(self, payload: bytes) -> bytes:
        """The compressed payload of one message (RSV1 set on its first frame)."""
        compressor = self._compressor
        if compressor is None:
            compressor = zlib.compressobj(
                self.level, zlib.DEFLATED, -self.server_bits, self.mem_level
            )
            if self.server_takeover:
                self._compressor = compressor
        data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
        return data[:-4] if data.endswith(_TAIL) else data

    def decompress(self, payload: bytes, max_size: int) -> bytes:
        """Inflate one message; raise :class:`FrameError` past ``max_size`` or on bad data."""
        decompressor = self._decompressor
        if decompressor is None:
            decompressor = zlib.decompressobj(-self.client_bits)
        try:
            data = decompressor.decompress(payload, max_size + 1)
            if len(data) <= max_size and not decompressor.unconsumed_tail:
                data += decompressor.decompress(_TAIL, max_size + 1 - len(data))
        except zlib.error as exc:
            self._decompressor = None
            raise FrameError(1007, f"invalid compressed data ({exc})") from None
        if len(data) > max_size or decompressor.unconsumed_tail:
            self._decompressor = None
            raise FrameError(1009, "message too big once inflated")
        if self.client_takeover and not decompressor.eof:
            self._decompressor = decompressor
        else:
            # Without takeover, or after a final deflate block, the next message starts afresh.
            self._decompressor = None
        return data

    def release(self) -> None:
        """Drop the compressor and decompressor (the connection is gone)."""
        self._compressor = None
        self._decompressor = None
