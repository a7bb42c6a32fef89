"""Small helpers for blocking tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.client.conftest import transport_options
from tests.client.servers import Event, SioServer


def transports(kind: str) -> list[str]:
    """The ``transports`` argument for a transport setup (polling, websocket, upgrade)."""
    return list(transport_options(kind)["transports"])


def wait_for(probe: Callable[[], Any], within: float = 5.0) -> Any:
    """Poll ``probe`` from a plain thread until it returns something truthy."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {probe}")
        time.sleep(0.01)


def server_events(sio: SioServer, kind: str, count: int = 1, **match: Any) -> list[Event]:
    """Wait (blocking) until the server printed ``count`` matching events."""
    return list(
        wait_for(lambda: (found := sio.of(kind, **match)) and len(found) >= count and found)
    )
