"""What the adapters' broker links have in common: several adapters (one per namespace) share one
link, which closes when the last of them lets it go."""

from __future__ import annotations

__all__ = ["SharedLink"]


class SharedLink:
    """A connection shared by ``users`` adapters: :meth:`acquire` one more, :meth:`release` one less."""

    #: how many adapters use the link
    users: int = 0

    def acquire(self) -> None:
        """One more adapter uses the link."""
        self.users += 1

    async def release(self) -> None:
        """One adapter less; the last one closes the link."""
        self.users -= 1
        if self.users <= 0:
            self.users = 0
            await self.close()

    async def close(self) -> None:
        """Close the link's connections."""
        raise NotImplementedError
