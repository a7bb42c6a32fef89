"""What a :class:`~aiosio.client.Manager` tells the namespace sockets that registered with it.

Apart from ``manager.py`` and ``socket.py``, which both use it: the manager makes the sockets and
imports ``socket.py``; a socket sees its manager as a ``socket.SocketManager`` and never imports
``manager.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from ..protocol import socketio

__all__ = ["SocketHooks"]


class SocketHooks(NamedTuple):
    """What a :class:`~aiosio.client.Manager` tells an active namespace socket, which registers
    these with :meth:`Manager.activate` (package-internal: :class:`~aiosio.client.Socket` does it)."""

    #: the connection opened: send the CONNECT packet
    on_open: Callable[[], None]
    #: a packet for the socket's namespace arrived
    on_packet: Callable[[socketio.Packet], None]
    #: the connection failed (the error)
    on_error: Callable[[BaseException], None]
    #: the Manager stopped trying to connect (the last error)
    on_give_up: Callable[[BaseException], None]
    #: the connection closed (reason, description)
    on_close: Callable[[str, Any], None]
