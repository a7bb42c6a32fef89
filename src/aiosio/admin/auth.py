"""Who may open the admin namespace: a username with a bcrypt hash or a plain password."""

from __future__ import annotations

import asyncio
import hmac
import re
import secrets
from collections.abc import Mapping
from typing import Any, Protocol

__all__ = ["BasicAuth", "InMemoryStore", "SessionStore", "is_bcrypt_hash"]

_BCRYPT = re.compile(r"^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$")


def is_bcrypt_hash(value: str) -> bool:
    """Whether ``value`` looks like a bcrypt hash (``$2b$10$...``, 60 characters)."""
    return bool(_BCRYPT.match(value))


class SessionStore(Protocol):
    """Where the ids of authenticated admin sessions are kept (so that the UI reconnects)."""

    async def does_session_exist(self, session_id: str) -> bool:
        """Whether ``session_id`` was saved."""

    async def save_session(self, session_id: str) -> None:
        """Remember ``session_id``."""


class InMemoryStore:
    """Session ids in a set in this process (the reference's ``InMemoryStore``)."""

    __slots__ = ("sessions",)

    def __init__(self) -> None:
        self.sessions: set[str] = set()

    async def does_session_exist(self, session_id: str) -> bool:
        """Whether ``session_id`` was saved."""
        return session_id in self.sessions

    async def save_session(self, session_id: str) -> None:
        """Remember ``session_id``."""
        self.sessions.add(session_id)


class BasicAuth:
    """A username and its password: a bcrypt hash (needs ``bcrypt``: ``aiosio[admin]``) or plain text.

    A hash is compared in a worker thread (bcrypt takes tens of milliseconds on purpose); a plain
    password in constant time.
    """

    __slots__ = ("_hashed", "password", "username")

    def __init__(self, username: str, password: str) -> None:
        if not isinstance(username, str) or not isinstance(password, str):
            raise TypeError("the admin username and password must be strings")
        if not password:
            raise ValueError("the admin password must not be empty")
        self.username = username
        self.password = password
        self._hashed = is_bcrypt_hash(password)
        if self._hashed:
            try:
                import bcrypt  # noqa: F401
            except ImportError as exc:  # pragma: no cover - depends on the installed extras
                raise ImportError(
                    "a bcrypt password hash needs the bcrypt package: pip install 'aiosio[admin]'"
                ) from exc

    @classmethod
    def from_option(cls, auth: Mapping[str, Any]) -> BasicAuth:
        """Read ``{"type": "basic", "username": ..., "password": ...}`` (``type`` may be left out)."""
        kind = auth.get("type", "basic")
        if kind != "basic":
            raise ValueError(f"unsupported admin auth type {kind!r} (only 'basic')")
        return cls(auth.get("username", ""), auth.get("password", ""))

    async def check(self, username: Any, password: Any) -> bool:
        """Whether ``username`` and ``password`` (from the client's auth payload) match."""
        if not isinstance(username, str) or not isinstance(password, str):
            return False
        name_ok = hmac.compare_digest(username.encode(), self.username.encode())
        if not self._hashed:
            return hmac.compare_digest(password.encode(), self.password.encode()) and name_ok
        if not name_ok:
            return False
        import bcrypt

        hashed = self.password.encode()
        return await asyncio.to_thread(bcrypt.checkpw, password.encode(), hashed)


def new_session_id() -> str:
    """A random session id: 16 hex digits, like the reference's."""
    return secrets.token_hex(8)
