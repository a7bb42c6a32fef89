"""HTTP compression of long-polling responses (the reference's ``httpCompression``).

A polling response of at least ``threshold`` bytes is compressed with gzip or deflate (zlib format),
whichever the request's ``Accept-Encoding`` prefers, as the reference negotiates it: the higher
``q`` wins, then the coding named earlier in the header, then gzip before deflate. Without an
``Accept-Encoding`` header nothing is compressed.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["HttpCompression", "HttpCompressionOption", "preferred_encoding"]

#: ``True`` (the defaults), ``False``/``None`` (off), or a dict with ``threshold`` and ``level``.
HttpCompressionOption = bool | dict[str, Any] | None

_OFFERED: Final = ("gzip", "deflate")
_WBITS: Final = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def preferred_encoding(accept_encoding: str | None) -> str | None:
    """``"gzip"``, ``"deflate"`` or ``None`` for an ``Accept-Encoding`` header value."""
    if not accept_encoding:
        return None
    specs: dict[str, tuple[float, int]] = {}  # coding -> (q, position in the header)
    for order, item in enumerate(accept_encoding.split(",")):
        name, _, params = item.strip().partition(";")
        name = name.strip().lower()
        if not name or name in specs:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        specs[name] = (q, order)
    best: tuple[float, int, int, int] | None = None
    chosen = None
    for index, offered in enumerate(_OFFERED):
        # A coding named in the header is judged by its own q (q=0 refuses it), else by "*".
        if offered in specs:
            (q, order), specificity = specs[offered], 1
        elif "*" in specs:
            (q, order), specificity = specs["*"], 0
        else:
            continue
        if q <= 0:
            continue
        rank = (-q, -specificity, order, index)
        if best is None or rank < best:
            best, chosen = rank, offered
    return chosen


@dataclass(frozen=True, slots=True)
class HttpCompression:
    """When and how polling responses are compressed."""

    threshold: int = 1024
    level: int = zlib.Z_DEFAULT_COMPRESSION

    @classmethod
    def from_option(cls, option: HttpCompressionOption) -> HttpCompression | None:
        """Read the ``http_compression`` server option."""
        if option is None or option is False:
            return None
        if option is True:
            return cls()
        unknown = set(option) - {"threshold", "level"}
        if unknown:
            raise ValueError(f"unknown http_compression options: {sorted(unknown)}")
        threshold = int(option.get("threshold", 1024))
        level = int(option.get("level", zlib.Z_DEFAULT_COMPRESSION))
        if threshold < 0 or not -1 <= level <= 9:
            raise ValueError("http_compression: threshold >= 0 and -1 <= level <= 9")
        return cls(threshold, level)

    def apply(self, accept_encoding: str | None, body: bytes) -> tuple[bytes, str | None]:
        """The body to send and its ``Content-Encoding`` (``None`` when left as is)."""
        if len(body) < self.threshold:
            return body, None
        encoding = preferred_encoding(accept_encoding)
        if encoding is None:
            return body, None
        compressor = zlib.compressobj(self.level, zlib.DEFLATED, _WBITS[encoding])
        return compressor.compress(body) + compressor.flush(), encoding
