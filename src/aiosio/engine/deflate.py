"""The ``per_message_deflate`` option: WebSocket compression (RFC 7692) on the embedded server.

As in the reference (``perMessageDeflate``) it is off by default. ``True`` turns it on with the
defaults below; a :class:`PerMessageDeflate` (or a dict of its fields) sets them. Only the embedded
server negotiates it: under ASGI the host (uvicorn, hypercorn, granian) decides on its own, see
docs/embedded-server.md.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["PerMessageDeflate", "PerMessageDeflateOption"]


@dataclass(frozen=True, slots=True)
class PerMessageDeflate:
    """How the embedded server negotiates and uses permessage-deflate.

    * ``threshold`` (1024): messages shorter than this many bytes go out uncompressed, as do
      packets sent with ``compress=False``.
    * ``level`` (zlib's default, 6) and ``mem_level`` (8, 1-9): the compressor's effort and the
      memory of its hash table (``2 ** (mem_level + 9)`` bytes).
    * ``server_max_window_bits`` (None: what the client asks, else 15; 9-15): the server's LZ77
      window, ``2 ** bits`` bytes. zlib cannot compress with an 8-bit window, so an offer asking for
      8 is declined.
    * ``client_max_window_bits`` (None: the client's choice; 8-15): asks the client for a smaller
      window. A client that did not offer the parameter cannot be asked, and its offer is declined.
    * ``server_no_context_takeover`` / ``client_no_context_takeover`` (False): compress (or have
      the client compress) every message on its own. Without context takeover no compressor or
      decompressor is kept between messages: less memory per connection, a worse ratio.
    """

    threshold: int = 1024
    level: int = zlib.Z_DEFAULT_COMPRESSION
    mem_level: int = 8
    server_max_window_bits: int | None = None
    client_max_window_bits: int | None = None
    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False

    def __post_init__(self) -> None:
        if self.threshold < 0:
            raise ValueError("per_message_deflate threshold must be >= 0")
        if not -1 <= self.level <= 9:
            raise ValueError("per_message_deflate level must be -1 to 9")
        if not 1 <= self.mem_level <= 9:
            raise ValueError("per_message_deflate mem_level must be 1 to 9")
        server_bits = self.server_max_window_bits
        if server_bits is not None and not 9 <= server_bits <= 15:
            raise ValueError("per_message_deflate server_max_window_bits must be 9 to 15")
        client_bits = self.client_max_window_bits
        if client_bits is not None and not 8 <= client_bits <= 15:
            raise ValueError("per_message_deflate client_max_window_bits must be 8 to 15")

    @classmethod
    def from_option(cls, option: PerMessageDeflateOption) -> PerMessageDeflate | None:
        """Read the ``per_message_deflate`` server option (``None`` when it is off)."""
        if option is None or option is False:
            return None
        if option is True:
            return cls()
        if isinstance(option, PerMessageDeflate):
            return option
        if isinstance(option, Mapping):
            known = {field.name for field in fields(cls)}
            unknown = set(option) - known
            if unknown:
                raise ValueError(f"unknown per_message_deflate options: {sorted(unknown)}")
            return cls(**option)
        raise TypeError(
            "per_message_deflate must be a bool, a PerMessageDeflate or a dict, "
            f"not {type(option).__name__}"
        )


#: ``True`` (the defaults), ``False``/``None`` (off), a :class:`PerMessageDeflate` or a dict of it.
PerMessageDeflateOption = bool | PerMessageDeflate | Mapping[str, Any] | None
