"""An awaitable log of event dicts, shared by the Node peers and the in-process servers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

__all__ = ["Event", "EventLog"]

Event = dict[str, Any]


class EventLog:
    """Events in arrival order. Each event is handed out once, by ``expect`` or ``next_event``.

    Events that arrive before anyone waits for them are kept, so a test never races its peer.
    """

    def __init__(self, describe: Callable[[], str] | None = None) -> None:
        self.events: list[Event] = []
        self._taken: list[bool] = []
        self._cursor = 0
        self._changed = asyncio.Event()
        self._ended: str | None = None
        self._describe = describe
        #: Called with every event as it arrives (to relay events elsewhere).
        self.listeners: list[Callable[[Event], None]] = []

    def push(self, event: Event) -> None:
        """Record one event and wake the waiters."""
        self.events.append(event)
        self._taken.append(False)
        self._changed.set()
        for listener in self.listeners:
            listener(event)

    def end(self, why: str) -> None:
        """No more events will come (the peer exited); waiters fail fast with ``why``."""
        self._ended = why
        self._changed.set()

    def _find(self, predicate: Callable[[Event], bool]) -> Event | None:
        for index, event in enumerate(self.events):
            if not self._taken[index] and predicate(event):
                self._taken[index] = True
                return event
        return None

    def _next(self) -> Event | None:
        while self._cursor < len(self.events):
            index = self._cursor
            self._cursor += 1
            if not self._taken[index]:
                self._taken[index] = True
                return self.events[index]
        return None

    async def _wait_for(self, pick: Callable[[], Event | None], what: str, timeout: float) -> Event:  # noqa: ASYNC109 (the documented test API)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = pick()
            if found is not None:
                return found
            if self._ended is not None:
                raise AssertionError(f"{what}: {self._ended}{self._details()}")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"{what}: timed out after {timeout} s{self._details()}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def _details(self) -> str:
        text = f"\nevents so far: {self.events!r}"
        if self._describe is not None:
            text += self._describe()
        return text

    async def expect(self, predicate: Callable[[Event], bool], timeout: float = 5.0) -> Event:  # noqa: ASYNC109 (the documented test API)
        """Wait for (and take) the first not yet taken event that satisfies ``predicate``."""
        return await self._wait_for(lambda: self._find(predicate), "expected event", timeout)

    async def expect_event(self, name: str, timeout: float = 5.0, **fields: Any) -> Event:  # noqa: ASYNC109 (the documented test API)
        """Shorthand: ``ev["event"] == name`` and every given field equal."""

        def match(event: Event) -> bool:
            return event.get("event") == name and all(event.get(k) == v for k, v in fields.items())

        return await self._wait_for(lambda: self._find(match), f"event {name!r} {fields}", timeout)

    async def next_event(self, timeout: float = 5.0) -> Event:  # noqa: ASYNC109 (the documented test API)
        """Wait for (and take) the oldest event nobody has taken yet."""
        return await self._wait_for(self._next, "next event", timeout)

    def seen(self, predicate: Callable[[Event], bool]) -> list[Event]:
        """Every event so far (taken or not) that satisfies ``predicate``; does not take them."""
        return [event for event in self.events if predicate(event)]
