"""Calling user handlers: plain functions directly, coroutines without a Task until they suspend.

A coroutine handler is started by stepping it in the caller's frame. Most handlers finish without ever
waiting (they emit, join a room, return a value), and those cost no Task at all. Only a handler that
really suspends is handed to a Task, which resumes it where it stopped.

One consequence: until its first real suspension, a coroutine handler runs outside any Task (even
when the message was delivered from inside one), so ``asyncio.current_task()`` is ``None`` there and
``asyncio.timeout()`` / ``asyncio.TaskGroup()`` raise ``RuntimeError`` if entered before the first
``await`` that suspends. Servers created with ``task_per_handler=True`` start every coroutine handler in
its own Task instead.

A handler that raises is logged with its traceback; the exception never reaches the caller.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from asyncio.tasks import _enter_task, _leave_task
from collections.abc import Callable, Coroutine, Generator
from types import CoroutineType
from typing import Any, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["Emitter", "call_lenient", "invoke", "spawn"]

_tasks: set[asyncio.Task[Any]] = set()


class _Resume:
    """Awaitable that continues a coroutine which already yielded ``pending`` to its caller."""

    __slots__ = ("_coro", "_pending")

    def __init__(self, coro: Coroutine[Any, Any, Any], pending: Any) -> None:
        self._coro = coro
        self._pending = pending

    def __await__(self) -> Generator[Any, Any, Any]:
        coro = self._coro
        pending = self._pending
        self._pending = None
        while True:
            try:
                sent = yield pending
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # delivered by the Task (cancellation): forward it
                try:
                    pending = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
                continue
            try:
                pending = coro.send(sent)
            except StopIteration as stop:
                return stop.value


async def _finish(
    coro: Coroutine[Any, Any, Any],
    pending: Any,
    done: Callable[[Any], None] | None,
    logger: logging.Logger,
    label: str,
) -> None:
    try:
        value = await _Resume(coro, pending)
    except asyncio.CancelledError:
        return
    except Exception:
        logger.exception("%s raised", label)
        return
    if done is not None:
        _call_done(done, value, logger, label)


async def _run(
    coro: Coroutine[Any, Any, Any],
    done: Callable[[Any], None] | None,
    logger: logging.Logger,
    label: str,
) -> None:
    try:
        value = await coro
    except asyncio.CancelledError:
        return
    except Exception:
        logger.exception("%s raised", label)
        return
    if done is not None:
        _call_done(done, value, logger, label)


def _call_done(done: Callable[[Any], None], value: Any, logger: logging.Logger, label: str) -> None:
    try:
        done(value)
    except Exception:
        logger.exception("acknowledgement of %s raised", label)


def spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """Run ``coro`` in a Task that is kept alive until it finishes."""
    task = asyncio.get_running_loop().create_task(coro)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return task


def drive(
    coro: Coroutine[Any, Any, Any],
    done: Callable[[Any], None] | None,
    logger: logging.Logger,
    label: str,
    *,
    in_task: bool = False,
) -> None:
    """Run a coroutine: step it now, and only make a Task if it suspends."""
    if in_task:
        spawn(_run(coro, done, logger, label))
        return
    loop = asyncio.get_running_loop()
    # The first step runs outside any task: if the caller runs in one (an ASGI receive loop), it is
    # stepped aside, so that the handler cannot bind a timeout or a task group to the caller's task.
    caller = asyncio.current_task(loop)
    if caller is not None:
        _leave_task(loop, caller)
    try:
        pending = coro.send(None)
    except StopIteration as stop:
        if done is not None:
            _call_done(done, stop.value, logger, label)
        return
    except asyncio.CancelledError:
        return
    except Exception:
        logger.exception("%s raised", label)
        return
    finally:
        if caller is not None:
            _enter_task(loop, caller)
    spawn(_finish(coro, pending, done, logger, label))


def invoke(
    fn: Callable[..., Any],
    args: tuple[Any, ...] | list[Any],
    done: Callable[[Any], None] | None,
    logger: logging.Logger,
    label: str,
    *,
    in_task: bool = False,
) -> None:
    """Call ``fn(*args)``; pass its result (awaited if it is a coroutine) to ``done``.

    Exceptions are logged, never raised; ``done`` is then not called.
    """
    try:
        result = fn(*args)
    except Exception:
        logger.exception("%s raised", label)
        return
    if result is not None and (type(result) is CoroutineType or inspect.iscoroutine(result)):
        drive(result, done, logger, label, in_task=in_task)
    elif done is not None:
        _call_done(done, result, logger, label)


def _positional_capacity(fn: Callable[..., Any]) -> int:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return 1 << 16
    count = 0
    for param in sig.parameters.values():
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            return 1 << 16
        if param.kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            count += 1
    return count


def call_lenient(
    fn: Callable[..., Any], args: tuple[Any, ...], logger: logging.Logger, label: str
) -> None:
    """Call ``fn`` with as many of ``args`` as it accepts (like a JavaScript listener)."""
    invoke(fn, args[: _positional_capacity(fn)], None, logger, label)


class _Once:
    __slots__ = ("emitter", "event", "fn")

    def __init__(self, emitter: Emitter, event: str, fn: Callable[..., Any]) -> None:
        self.emitter = emitter
        self.event = event
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        self.emitter.off(self.event, self)
        return self.fn(*args)


class Emitter:
    """A small event emitter: ``on`` / ``once`` / ``off`` (each usable as a decorator) and ``emit``."""

    __slots__ = ("_listeners",)

    _logger = logging.getLogger("aiosio.server")

    def __init__(self) -> None:
        self._listeners: dict[str, list[Callable[..., Any]]] = {}

    @overload
    def on(self, event: str, handler: F) -> F: ...
    @overload
    def on(self, event: str, handler: None = None) -> Callable[[F], F]: ...
    def on(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Register ``handler`` for ``event``; without ``handler``, return a decorator."""
        if handler is None:

            def decorator(fn: F) -> F:
                self._add(event, fn)
                return fn

            return decorator
        self._add(event, handler)
        return handler

    @overload
    def once(self, event: str, handler: F) -> F: ...
    @overload
    def once(self, event: str, handler: None = None) -> Callable[[F], F]: ...
    def once(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Like :meth:`on`, but the handler is removed after its first call."""
        if handler is None:

            def decorator(fn: F) -> F:
                self._add(event, _Once(self, event, fn))
                return fn

            return decorator
        self._add(event, _Once(self, event, handler))
        return handler

    def off(self, event: str | None = None, handler: Callable[..., Any] | None = None) -> None:
        """Remove ``handler`` from ``event``, every handler of ``event``, or every handler."""
        if event is None:
            self._listeners.clear()
            return
        if handler is None:
            self._listeners.pop(event, None)
            return
        handlers = self._listeners.get(event)
        if not handlers:
            return
        for i, registered in enumerate(handlers):
            if registered is handler or getattr(registered, "fn", None) is handler:
                del handlers[i]
                break
        if not handlers:
            del self._listeners[event]

    def listeners(self, event: str) -> list[Callable[..., Any]]:
        """A copy of the handlers registered for ``event``."""
        return list(self._listeners.get(event, ()))

    def _add(self, event: str, handler: Callable[..., Any]) -> None:
        if not callable(handler):
            raise TypeError("handler must be callable")
        self._listeners.setdefault(event, []).append(handler)

    def emit(self, event: str, *args: Any) -> bool:
        """Call every handler of ``event`` with ``args``; return whether there was one."""
        handlers = self._listeners.get(event)
        if not handlers:
            return False
        for handler in list(handlers):
            invoke(handler, args, None, self._logger, f"{event!r} handler")
        return True
