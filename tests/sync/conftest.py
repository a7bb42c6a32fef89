"""The blocking clients talk to the same server processes as the asyncio client's tests."""

from __future__ import annotations

from tests.client.conftest import server_kind, sio, sio_factory, transport

__all__ = ["server_kind", "sio", "sio_factory", "transport"]
