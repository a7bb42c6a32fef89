"""Listener registry shared by the Manager and the client Socket.

Plain handlers run directly; a handler that returns an awaitable gets one Task, kept alive here
until it finishes. A handler that raises is logged with its traceback; the connection lives on.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

__all__ = ["Handler", "Listeners", "invoke"]

Handler = Callable[..., Any]
H = TypeVar("H", bound=Handler)

_logger = logging.getLogger("aiosio.client")
_tasks: set[asyncio.Future[Any]] = set()


def _log_failure(handler: Handler, exc: BaseException) -> None:
    name = getattr(handler, "__qualname__", repr(handler))
    _logger.error("handler %s raised", name, exc_info=(type(exc), exc, exc.__traceback__))


def invoke(
    handler: Handler, args: tuple[Any, ...], done: Callable[[Any], None] | None = None
) -> None:
    """Call ``handler(*args)``; hand its result (awaited if need be) to ``done``.

    Errors are logged and count as a ``None`` result.
    """
    try:
        result = handler(*args)
    except Exception as exc:
        _log_failure(handler, exc)
        result = None
    if inspect.isawaitable(result):
        future = asyncio.ensure_future(result)
        _tasks.add(future)

        def finished(fut: asyncio.Future[Any]) -> None:
            _tasks.discard(fut)
            value = None
            if fut.cancelled():
                pass
            elif (exc := fut.exception()) is not None:
                _log_failure(handler, exc)
            else:
                value = fut.result()
            if done is not None:
                done(value)

        future.add_done_callback(finished)
    elif done is not None:
        done(result)


async def maybe_await(value: Any) -> Any:
    """Await ``value`` if it is awaitable, else return it."""
    if inspect.isawaitable(value):
        return await value
    return value


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
        """Call every handler of ``event`` with ``args``."""
        handlers = self._handlers.get(event)
        if handlers:
            for handler in tuple(handlers):
                invoke(handler, args)


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
