"""``connect()``: the reference's ``io()`` lookup, sharing one Manager per server and event loop."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any
from urllib.parse import urlsplit

from .manager import Manager
from .socket import Auth, Socket

__all__ = ["cache_key", "connect"]

_managers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Manager]] = (
    weakref.WeakKeyDictionary()
)


def cache_key(url: str, path: str = "/socket.io/") -> tuple[str, str]:
    """``(scheme://host:port + path, namespace)`` for ``url``, as the reference computes them."""
    parts = urlsplit(url if "://" in url else "https://" + url)
    scheme = parts.scheme.lower()
    port = parts.port
    if port is None:
        port = 443 if scheme in ("https", "wss") else 80
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    namespace = parts.path or "/"
    return f"{scheme}://{host}:{port}{path}", namespace


async def connect(
    url: str,
    namespace: str | None = None,
    *,
    auth: Auth = None,
    retries: int = 0,
    ack_timeout: float | None = None,
    max_buffered: int | None = None,
    force_new: bool = False,
    multiplex: bool = True,
    **options: Any,
) -> Socket:
    """Connect to ``namespace`` (default: the URL's path, else ``"/"``) and return the socket.

    Sockets of different namespaces on the same server share one Manager (one connection) unless
    ``force_new=True`` or ``multiplex=False``; asking again for a namespace that already has a
    socket opens a new connection, as the reference does. ``options`` are :class:`Manager` options.
    With ``auto_connect=False`` the socket comes back unconnected: ``await socket.connect()`` later.
    """
    key, url_namespace = cache_key(url, options.get("path", "/socket.io/"))
    nsp = namespace or url_namespace
    if not nsp.startswith("/"):
        nsp = "/" + nsp
    managers = _managers.setdefault(asyncio.get_running_loop(), {})
    cached = managers.get(key)
    same_namespace = cached is not None and nsp in cached.nsps
    if force_new or not multiplex or same_namespace:
        manager = Manager(url, **options)
    else:
        if cached is None:
            cached = managers[key] = Manager(url, **options)
        manager = cached
    socket = manager.socket(
        nsp, auth=auth, retries=retries, ack_timeout=ack_timeout, max_buffered=max_buffered
    )
    if not manager.auto_connect:
        return socket
    try:
        await socket.connect()
    except BaseException:
        socket.disconnect()
        raise
    return socket
