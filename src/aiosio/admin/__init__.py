"""The server side of the Socket.IO Admin UI: :func:`instrument` (see :mod:`aiosio.admin.instrument`).

::

    from aiosio.admin import instrument

    instrument(io, auth={"username": "admin", "password": "$2b$10$..."}, serve_ui=True)
"""

from aiosio.admin.auth import BasicAuth, InMemoryStore, SessionStore
from aiosio.admin.instrument import Admin, instrument

__all__ = ["Admin", "BasicAuth", "InMemoryStore", "SessionStore", "instrument"]
