"""Which event loop a call runs on: the test that lets other threads call into the server safely."""

from __future__ import annotations

import asyncio

__all__ = ["off_loop"]


def off_loop(loop: asyncio.AbstractEventLoop | None) -> bool:
    """Whether the caller runs outside ``loop`` (another thread, or another loop).

    ``None`` (the server has not started yet) is never "off": there is nothing to hop to.
    """
    if loop is None:
        return False
    try:
        return asyncio.get_running_loop() is not loop
    except RuntimeError:  # no loop runs in this thread
        return True
