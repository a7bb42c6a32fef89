"""The immutable room targeting that broadcast operators share: ``to``, ``in_``, ``except_``,
``compress`` and ``volatile``, each returning a new operator.

The server's :class:`~aiosio.server.broadcast.BroadcastOperator` and the emitter's
:class:`~aiosio.adapters.emitter.BroadcastOperator` differ in what they hold besides the rooms and in
how they keep flags; each says how to copy itself with other rooms (``_with_rooms``) and other flags
(``_with_flags``). Namespaces, sockets and emitters start an operator with the same modifiers
(:class:`TargetingShortcuts`, :class:`ModifierShortcuts`); the Redis and PostgreSQL emitters share
their operations on a whole namespace (:class:`EmitterShortcuts` over an :class:`EmitterOperator`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, Self, TypeVar

__all__ = [
    "EmitterOperator",
    "EmitterShortcuts",
    "ModifierShortcuts",
    "RoomTargeting",
    "TargetingShortcuts",
    "rooms_of",
]


def rooms_of(room: str | Iterable[str]) -> frozenset[str]:
    """One room or an iterable of rooms, as a frozenset."""
    if isinstance(room, str):
        return frozenset((room,))
    rooms = frozenset(room)
    for name in rooms:
        if not isinstance(name, str):
            raise TypeError(f"room names must be str, not {type(name).__name__}")
    return rooms


class RoomTargeting:
    """Targeted and excluded rooms, and the modifiers every broadcast operator has."""

    __slots__ = ("_except", "_rooms")

    _rooms: frozenset[str]
    _except: frozenset[str]

    def _with_rooms(self, rooms: frozenset[str], except_: frozenset[str]) -> Self:
        raise NotImplementedError

    def _with_flags(self, **changes: Any) -> Self:
        raise NotImplementedError

    def to(self, room: str | Iterable[str]) -> Self:
        """Also target ``room`` (one or several). A socket in several targeted rooms gets one copy."""
        return self._with_rooms(self._rooms | rooms_of(room), self._except)

    def in_(self, room: str | Iterable[str]) -> Self:
        """Alias of :meth:`to`."""
        return self.to(room)

    def except_(self, room: str | Iterable[str]) -> Self:
        """Exclude the sockets in ``room`` (one or several)."""
        return self._with_rooms(self._rooms, self._except | rooms_of(room))

    def compress(self, value: bool) -> Self:
        """Whether to compress the packets."""
        return self._with_flags(compress=bool(value))

    @property
    def volatile(self) -> Self:
        """The packet may be dropped for clients that cannot take it right now."""
        return self._with_flags(volatile=True)


_Op = TypeVar("_Op", bound=RoomTargeting)


class TargetingShortcuts(Generic[_Op]):
    """``to`` / ``in_`` / ``except_``, each starting from ``self._operator()``."""

    __slots__ = ()

    def _operator(self) -> _Op:
        raise NotImplementedError

    def to(self, room: str | Iterable[str]) -> _Op:
        """Target ``room`` (one or several)."""
        return self._operator().to(room)

    def in_(self, room: str | Iterable[str]) -> _Op:
        """Alias of :meth:`to`."""
        return self._operator().to(room)

    def except_(self, room: str | Iterable[str]) -> _Op:
        """Exclude the sockets in ``room`` (one or several)."""
        return self._operator().except_(room)


class ModifierShortcuts(TargetingShortcuts[_Op]):
    """:class:`TargetingShortcuts` plus ``compress`` and ``volatile``."""

    __slots__ = ()

    def compress(self, value: bool) -> _Op:
        """Whether to compress the packets."""
        return self._operator().compress(value)

    @property
    def volatile(self) -> _Op:
        """The packet may be dropped for clients that cannot take it right now."""
        return self._operator().volatile


class EmitterOperator(RoomTargeting):
    """An emitter's operator: what it sends reaches the targeted sockets of every server."""

    __slots__ = ()

    async def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to every targeted client of the cluster."""
        raise NotImplementedError

    async def sockets_join(self, room: str | Iterable[str]) -> None:
        """Make the targeted sockets join ``room`` (one or several)."""
        raise NotImplementedError

    async def sockets_leave(self, room: str | Iterable[str]) -> None:
        """Make the targeted sockets leave ``room`` (one or several)."""
        raise NotImplementedError

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the targeted sockets (and close their connections when ``close``)."""
        raise NotImplementedError


_EmitterOp = TypeVar("_EmitterOp", bound=EmitterOperator)


class EmitterShortcuts(ModifierShortcuts[_EmitterOp]):
    """:class:`ModifierShortcuts` plus an emitter's operations on its whole namespace."""

    __slots__ = ()

    async def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to every client of the namespace, on every server."""
        await self._operator().emit(event, *args)

    async def sockets_join(self, room: str | Iterable[str]) -> None:
        """Make every socket of the namespace join ``room``."""
        await self._operator().sockets_join(room)

    async def sockets_leave(self, room: str | Iterable[str]) -> None:
        """Make every socket of the namespace leave ``room``."""
        await self._operator().sockets_leave(room)

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every socket of the namespace."""
        await self._operator().disconnect_sockets(close)
