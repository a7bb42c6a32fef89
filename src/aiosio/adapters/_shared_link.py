"""What the adapters' broker links have in common: several adapters (one per namespace) share one
link, which closes when the last of them lets it go; a link that closes first lets its writer flush
what is buffered (for a second at most), then fails what is left with :class:`LinkClosedError`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

from aiosio.exceptions import AdapterError

__all__ = ["BufferedLink", "LinkClosedError", "SharedLink", "fail_unsent", "flush", "stop_tasks"]

logger = logging.getLogger("aiosio.adapter")

#: seconds a closing link lets its writer send what is buffered
FLUSH_TIMEOUT = 1.0


class LinkClosedError(AdapterError):
    """The link closed before the message could be sent (the link logs how many, once)."""


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


class BufferedLink(SharedLink):
    """A shared link whose publisher keeps up to ``max_buffer`` messages while its broker is
    unreachable and reconnects with backoff (``retry_min_delay`` doubling up to ``retry_max_delay``)."""

    #: the broker's name, in errors and log lines
    broker = "broker"

    def __init__(self, *, max_buffer: int, retry_min_delay: float, retry_max_delay: float) -> None:
        if max_buffer < 1:
            raise ValueError("max_buffer must be at least 1")
        self.max_buffer = max_buffer
        self.retry_min_delay = retry_min_delay
        self.retry_max_delay = retry_max_delay
        self._publisher_down = False
        self._closed = False

    def _backoff(self, delay: float) -> float:
        return min(max(delay * 2, self.retry_min_delay), self.retry_max_delay)

    def _check_room(self, pending: int) -> None:
        """Raise :class:`AdapterError` when the link is closed or ``pending`` fills the buffer."""
        if self._closed:
            raise AdapterError(f"the {self.broker} link is closed")
        if pending >= self.max_buffer:
            raise AdapterError(
                f"{pending} messages are already buffered for {self.broker} "
                "(unreachable, or slower than the emits)"
            )

    def _publisher_lost(self, exc: BaseException, first: bool) -> None:
        """The publisher's connection failed (logged for the ``first`` failure of an outage)."""
        self._publisher_down = True
        if first:
            logger.warning(
                "%s publisher lost its connection (%s); buffering up to %d messages",
                self.broker,
                exc,
                self.max_buffer,
            )

    async def _publisher_back(self, pending: Callable[[], int]) -> None:
        """The publisher reconnected after an outage: give every server's subscriber (which retries
        at most every ``retry_max_delay``) the time to subscribe again before the backlog goes out."""
        self._publisher_down = False
        await asyncio.sleep(self.retry_max_delay * 1.5)
        logger.info(
            "%s publisher reconnected; sending %d buffered messages", self.broker, pending()
        )

    def acquire(self) -> None:
        """One more adapter uses the link (a closed link opens again)."""
        if self._closed:
            self._closed = False
            self._reopen()
        super().acquire()

    def _reopen(self) -> None:
        """Forget the tasks of the closed link (new ones start with the next use)."""


async def flush(pending: Callable[[], int], unreachable: Callable[[], bool]) -> None:
    """Wait until nothing is ``pending`` or the broker is ``unreachable`` (nothing more will go out),
    :data:`FLUSH_TIMEOUT` seconds at most."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(FLUSH_TIMEOUT):
            while True:
                if not pending() or unreachable():
                    return
                await asyncio.sleep(0.01)


async def stop_tasks(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel ``tasks`` and wait for each to end (what they raise is theirs)."""
    for task in tasks:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def fail_unsent(broker: str, futures: Iterable[asyncio.Future[Any]]) -> int:
    """Fail the futures of messages a closing link could not send with :class:`LinkClosedError`; one
    warning gives their count. Returns the count."""
    unsent = [future for future in futures if not future.done()]
    if unsent:
        logger.warning("%s link closed with %d messages unsent; dropped", broker, len(unsent))
    for future in unsent:
        future.set_exception(
            LinkClosedError(f"the {broker} link closed before the message was sent")
        )
        future.exception()  # reported above: not "never retrieved" when nobody waits for it
    return len(unsent)
