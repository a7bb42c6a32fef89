"""Blocking Socket.IO clients for scripts, notebooks and synchronous web apps (Flask, Django).

:class:`SimpleClient` pulls events with ``receive()``; :class:`Client` runs handlers on a worker thread.
Both run the asyncio client (:mod:`aiosio.client`) on one background event loop thread shared by every
blocking client, so the protocol is written once. Every method may be called from any thread. Clients
still connected at interpreter exit are closed then. Needs the ``client`` extra (aiohttp).
"""

from __future__ import annotations

from .client import Client
from .simple import SimpleClient

__all__ = ["Client", "SimpleClient"]
