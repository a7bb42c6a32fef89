"""The Engine.IO server's options as typed objects.

:class:`EngineOptions` is the validated, immutable set of options an
:class:`~aiosio.engine.server.EngineServer` runs with (``engine.options``). :class:`EngineOptionsDict`
names the same options for ``**kwargs``: ``Server(**engine_options: Unpack[EngineOptionsDict])`` lets a
type checker catch a misspelt option (``ping_intervl``), and :func:`check_keywords` catches it at run
time with a suggestion.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypedDict

from .compression import HttpCompressionOption
from .cors import CorsOption
from .deflate import PerMessageDeflate, PerMessageDeflateOption
from .http import Request

__all__ = [
    "KNOWN_TRANSPORTS",
    "MAX_WRITE_BUFFER_SIZE",
    "TRANSPORTS",
    "AllowRequest",
    "EngineOptions",
    "EngineOptionsDict",
    "check_keywords",
]

#: The transports on by default, as in the reference.
TRANSPORTS = ("polling", "websocket")
#: Every transport the ``transports`` option may name; WebTransport is off unless named.
KNOWN_TRANSPORTS = ("polling", "websocket", "webtransport")
#: Default bound on the bytes queued for one session (see docs/reliability.md for the measurement).
MAX_WRITE_BUFFER_SIZE = 4 * 1024 * 1024

#: The ``allow_request`` hook: called with the handshake request; ``False`` or a message refuses it.
AllowRequest = Callable[[Request], "bool | str | Awaitable[bool | str | None] | None"]


class EngineOptionsDict(TypedDict, total=False):
    """The engine options a :class:`~aiosio.Server` passes on (every one optional).

    See :class:`EngineOptions` for what each means. ``path`` is not among them: it is the
    ``Server``'s own option.
    """

    ping_interval: float
    ping_timeout: float
    upgrade_timeout: float
    max_http_buffer_size: int
    transports: Iterable[str]
    allow_upgrades: bool
    cors: CorsOption
    allow_request: AllowRequest | None
    cookie: bool | dict[str, Any] | None
    initial_packet: str | bytes | None
    max_write_buffer_size: int
    trusted_proxies: Iterable[str]
    allow_eio3: bool
    http_compression: HttpCompressionOption
    per_message_deflate: PerMessageDeflateOption


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineOptions:
    """The options of an Engine.IO server, validated (times in float seconds).

    Building one checks every value (``ValueError`` names the bad one) and normalises it: times become
    floats, ``transports`` and ``trusted_proxies`` tuples, ``path`` gets its slashes.

    * ``ping_interval`` (25), ``ping_timeout`` (20), ``upgrade_timeout`` (10): positive seconds.
    * ``max_http_buffer_size`` (1e6 bytes): the largest POST body or WebSocket message.
    * ``transports``: which of ``"polling"``, ``"websocket"`` and ``"webtransport"`` are allowed
      (the first two by default).
    * ``path`` (``/engine.io/``), ``allow_upgrades`` (True).
    * ``cors``, ``trusted_proxies``, ``allow_request``, ``cookie``, ``initial_packet``,
      ``max_write_buffer_size`` (4 MiB), ``http_compression`` (True), ``allow_eio3`` (False),
      ``per_message_deflate`` (False; kept as a :class:`~aiosio.engine.deflate.PerMessageDeflate`, or
      ``None`` when off): see :class:`~aiosio.engine.server.EngineServer`.
    """

    ping_interval: float = 25.0
    ping_timeout: float = 20.0
    upgrade_timeout: float = 10.0
    max_http_buffer_size: int = 1_000_000
    transports: tuple[str, ...] = TRANSPORTS
    path: str = "/engine.io/"
    allow_upgrades: bool = True
    cors: CorsOption = field(default=None, compare=False)
    allow_request: AllowRequest | None = field(default=None, compare=False)
    cookie: bool | dict[str, Any] | None = field(default=None, compare=False)
    initial_packet: str | bytes | None = None
    max_write_buffer_size: int = MAX_WRITE_BUFFER_SIZE
    trusted_proxies: tuple[str, ...] = ()
    allow_eio3: bool = False
    http_compression: HttpCompressionOption = field(default=True, compare=False)
    per_message_deflate: PerMessageDeflateOption = False

    def __post_init__(self) -> None:
        for name in ("ping_interval", "ping_timeout", "upgrade_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
            object.__setattr__(self, name, float(value))
        for name in ("max_http_buffer_size", "max_write_buffer_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"{name} must be a positive number of bytes, not {value!r}")
            object.__setattr__(self, name, int(value))
        if isinstance(self.transports, str):
            raise ValueError(
                f"transports must be a list of transport names, not {self.transports!r}"
            )
        chosen = tuple(self.transports)
        if not chosen or any(t not in KNOWN_TRANSPORTS for t in chosen):
            raise ValueError(
                f"transports must be a non-empty subset of {KNOWN_TRANSPORTS}, not {chosen}"
            )
        object.__setattr__(self, "transports", chosen)
        if isinstance(self.trusted_proxies, str):
            object.__setattr__(self, "trusted_proxies", (self.trusted_proxies,))
        else:
            object.__setattr__(self, "trusted_proxies", tuple(self.trusted_proxies))
        stripped = self.path.strip("/")
        object.__setattr__(self, "path", "/" + stripped + "/" if stripped else "/")
        if self.allow_request is not None and not callable(self.allow_request):
            raise ValueError("allow_request must be callable")
        deflate = PerMessageDeflate.from_option(self.per_message_deflate)
        object.__setattr__(self, "per_message_deflate", deflate)


def check_keywords(owner: str, given: Iterable[str], known: Iterable[str]) -> None:
    """Raise ``TypeError`` for a keyword of ``given`` that is not in ``known``, naming it and the
    closest known name (``Server() got an unexpected keyword argument 'ping_intervl'; did you mean
    'ping_interval'?``)."""
    names = sorted(set(known))
    for name in given:
        if name in names:
            continue
        message = f"{owner}() got an unexpected keyword argument {name!r}"
        close = difflib.get_close_matches(name, names, n=1)
        if close:
            message += f"; did you mean {close[0]!r}?"
        raise TypeError(message)


#: The names :class:`EngineOptionsDict` allows.
ENGINE_OPTION_NAMES = frozenset(EngineOptionsDict.__annotations__)
