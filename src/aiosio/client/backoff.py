"""Exponential backoff with jitter, computed exactly like the reference client."""

from __future__ import annotations

import math
import random as _random
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    """Delays between reconnection attempts.

    The ``n``-th delay (counting from 0) is ``min_delay * factor ** n`` with a random deviation of
    up to ``jitter`` times that value, added or subtracted, and capped at ``max_delay``. As in the
    reference the arithmetic runs in whole milliseconds, so the same random draws give the same
    delays.

    ``random`` returns floats in ``[0, 1)``; inject a fixed sequence to get deterministic delays.
    """

    __slots__ = ("attempts", "factor", "jitter", "max_delay", "min_delay", "random")

    def __init__(
        self,
        *,
        min_delay: float = 0.1,
        max_delay: float = 10.0,
        factor: float = 2.0,
        jitter: float = 0.0,
        random: Callable[[], float] | None = None,
    ) -> None:
        self.min_delay = min_delay
        self.max_delay = max_delay
        self.factor = factor
        self.jitter = jitter
        self.random: Callable[[], float] = random if random is not None else _random.random
        #: How many delays were handed out since the last :meth:`reset`.
        self.attempts = 0

    def duration(self) -> float:
        """Return the next delay in seconds and count one more attempt."""
        base_ms = (self.min_delay or 0.1) * 1000.0
        try:
            ms = base_ms * self.factor**self.attempts
        except OverflowError:
            ms = math.inf
        self.attempts += 1
        jitter = self.jitter if 0 < self.jitter <= 1 else 0.0
        if jitter and math.isfinite(ms):
            rand = self.random()
            deviation = math.floor(rand * jitter * ms)
            ms = ms - deviation if (math.floor(rand * 10) & 1) == 0 else ms + deviation
        max_ms = (self.max_delay or 10.0) * 1000.0
        return int(min(ms, max_ms)) / 1000.0

    def reset(self) -> None:
        """Start counting attempts from zero again."""
        self.attempts = 0
