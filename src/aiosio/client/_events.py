"""Listener registry shared by the Manager and the client Socket.

Plain handlers run directly; a coroutine handler is stepped at once and gets a Task only if it
suspends (``aiosio._handlers``). A handler that raises is logged with its traceback; the connection
lives on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

from .. import _handlers

__all__ = ["Handler", "Listeners", "ensure_task", "invoke"]

Handler = Callable[..., Any]
H = TypeVar("H", bound=Handler)

_logger = logging.getLogger("aiosio.client")
_tasks: set[asyncio.Future[Any]] = set()


def _label(handler: Handler) -> str:
    return f"handler {getattr(handler, '__qualname__', handler)!r}"


def invoke(
    handler: Handler, args: tuple[Any, ...], done: Callable[[Any], None] | None = None
) -> None:
    """Call ``handler(*args)``; hand its result (awaited if it is a coroutine) to ``done``.

    A coroutine is stepped at once and only gets a Task if it suspends. Errors are logged; ``done``
    is then not called.
    """
    _handlers.invoke(handler, args, done, _logger, _label(handler))


def invoke_lenient(handler: Handler, args: tuple[Any, ...]) -> None:
    """Call ``handler`` with as many of ``args`` as it accepts, like a JavaScript listener."""
    _handlers.call_lenient(handler, args, _logger, _label(handler))


class _Once:
    __slots__ = ("event", "fired", "listener", "registry")

    def __init__(self, registry: Listeners, event: str, listener: Handler) -> None:
        self.registry = registry
        self.event = event
        self.listener = listener
        self.fired = False

    def __call__(self, *args: Any) -> Any:
        if self.fired:
            return None
        self.fired = True
        self.registry.off(self.event, self)
        return self.listener(*args)


class Listeners:
    """Event name -> ordered handlers, with ``on`` / ``once`` / ``off`` like the reference."""

    __slots__ = ("_handlers",)

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}

    @overload
    def on(self, event: str) -> Callable[[H], H]: ...
    @overload
    def on(self, event: str, handler: H) -> H: ...
    def on(self, event: str, handler: H | None = None) -> H | Callable[[H], H]:
        """Register ``handler`` for ``event``; without a handler, return a decorator."""
        if not isinstance(event, str):
            raise TypeError("event name must be a string")
        if handler is None:

            def decorator(fn: H) -> H:
                self._add(event, fn)
                return fn

            return decorator
        self._add(event, handler)
        return handler

    @overload
    def once(self, event: str) -> Callable[[H], H]: ...
    @overload
    def once(self, event: str, handler: H) -> H: ...
    def once(self, event: str, handler: H | None = None) -> H | Callable[[H], H]:
        """Like :meth:`on`, but the handler runs at most once."""
        if handler is None:

            def decorator(fn: H) -> H:
                self._add(event, _Once(self, event, fn))
                return fn

            return decorator
        self._add(event, _Once(self, event, handler))
        return handler

    def off(self, event: str | None = None, handler: Handler | None = None) -> None:
        """Remove one handler, every handler of ``event``, or (no arguments) every handler."""
        if event is None:
            self._handlers.clear()
            return
        if handler is None:
            self._handlers.pop(event, None)
            return
        handlers = self._handlers.get(event)
        if not handlers:
            return
        for i, h in enumerate(handlers):
            if h is handler or (isinstance(h, _Once) and h.listener is handler):
                del handlers[i]
                break
        if not handlers:
            del self._handlers[event]

    def listeners(self, event: str) -> list[Handler]:
        """The handlers of ``event``, in call order (a copy)."""
        return [h.listener if isinstance(h, _Once) else h for h in self._handlers.get(event, ())]

    def get(self, event: str) -> list[Handler] | None:
        """The live handler list (internal fast path)."""
        return self._handlers.get(event)

    def _add(self, event: str, handler: Handler) -> None:
        if not callable(handler):
            raise TypeError("handler must be callable")
        self._handlers.setdefault(event, []).append(handler)

    def emit(self, event: str, *args: Any) -> None:
        """Call every handler of ``event`` with as many of ``args`` as it accepts."""
        handlers = self._handlers.get(event)
        if handlers:
            for handler in tuple(handlers):
                invoke_lenient(handler, args)


def ensure_task(coro: Awaitable[Any]) -> asyncio.Future[Any]:
    """Run ``coro`` in the background, keeping a reference until it ends; errors are logged."""
    future = asyncio.ensure_future(coro)
    _tasks.add(future)

    def finished(fut: asyncio.Future[Any]) -> None:
        _tasks.discard(fut)
        if not fut.cancelled() and (exc := fut.exception()) is not None:
            _logger.error("background task failed", exc_info=(type(exc), exc, exc.__traceback__))

    future.add_done_callback(finished)
    return future
