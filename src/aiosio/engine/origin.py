"""Which browser origins may open or use a session (against cross-site WebSocket hijacking).

A browser adds ``Origin`` to every WebSocket handshake and to cross-origin requests, and sends the
visitor's cookies along whatever page started them. The engine therefore refuses a request whose
``Origin`` the server does not accept:

* with a ``cors`` option naming origins (one origin, a list, a callable), only those;
* with ``cors="*"`` or ``cors=True`` (reflect any origin), every origin;
* with no ``cors`` option, only the server's own origin (scheme, host and port of the request, as
  ``X-Forwarded-Proto`` / ``X-Forwarded-Host`` give them when the peer is a trusted proxy).

A request without ``Origin`` (a non-browser client) is always accepted.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from .cors import CorsPolicy
from .http import Request

__all__ = ["OriginPolicy"]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_WEB_SCHEMES = {"ws": "http", "wss": "https"}
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _key(scheme: str, netloc: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` with the default port filled in; ``None`` if unparsable."""
    scheme = _WEB_SCHEMES.get(scheme.lower(), scheme.lower())
    try:
        parts = urlsplit(f"{scheme}://{netloc.strip()}")
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if not host:
        return None
    if port is None:
        port = _DEFAULT_PORTS.get(scheme, 0)
    return scheme, host, port


def _first(value: str) -> str:
    return value.split(",", 1)[0].strip()


class OriginPolicy:
    """Decides whether a request's ``Origin`` may use the engine."""

    __slots__ = ("_cors", "_proxies", "_trust_all")

    def __init__(self, cors: CorsPolicy | None, trusted_proxies: Iterable[str] = ()) -> None:
        self._cors = cors
        networks: list[IPNetwork] = []
        trust_all = False
        if isinstance(trusted_proxies, str):
            trusted_proxies = [trusted_proxies]
        for entry in trusted_proxies:
            if entry == "*":
                trust_all = True
                continue
            networks.append(ipaddress.ip_network(entry, strict=False))
        self._proxies = tuple(networks)
        self._trust_all = trust_all

    @property
    def open(self) -> bool:
        """True when every origin is accepted (``cors="*"`` or ``cors=True``)."""
        cors = self._cors
        return cors is not None and (cors.origin == "*" or cors.origin is True)

    def trusts(self, request: Request) -> bool:
        """True when the request came through a trusted proxy (its ``X-Forwarded-*`` count)."""
        if self._trust_all:
            return True
        if not self._proxies or request.client is None:
            return False
        try:
            address = ipaddress.ip_address(request.client[0])
        except ValueError:
            return False
        return any(address in network for network in self._proxies)

    def own_origin(self, request: Request) -> tuple[str, str, int] | None:
        """The ``(scheme, host, port)`` the client addressed, as far as the server can tell."""
        headers = request.headers
        scheme = request.scheme
        host = headers.get("host", "")
        if self.trusts(request):
            proto = headers.get("x-forwarded-proto")
            if proto:
                scheme = _first(proto)
            forwarded_host = headers.get("x-forwarded-host")
            if forwarded_host:
                host = _first(forwarded_host)
        return _key(scheme, host)

    def refusal(self, request: Request) -> str | None:
        """``None`` if the request may proceed, else what to tell the operator in the log."""
        origin = request.headers.get("origin")
        if origin is None:
            return None
        cors = self._cors
        if cors is not None:
            if cors.allows(origin):
                return None
            return (
                f"origin {origin!r} is not allowed by the cors option; add it to cors "
                "(e.g. cors=['https://app.example']) or set cors='*' to accept any origin"
            )
        theirs = _key(*origin.split("://", 1)) if "://" in origin else None
        if theirs is not None and theirs == self.own_origin(request):
            return None
        return (
            f"origin {origin!r} differs from the server's own origin and no cors option is set; "
            "set cors=[...] to the origins allowed (or cors='*'), and trusted_proxies if a "
            "proxy in front rewrites the scheme or host"
        )
