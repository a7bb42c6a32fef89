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

The listener registry of the server (Socket, Namespace, Server) and of the client (Manager, Socket)
lives here too: :class:`Listeners` (``on`` / ``once`` / ``off``), :class:`AnyListeners` (plus the
catch-all listeners) and :class:`Emitter` (plus a public ``emit``). They are slotted base classes,
so that a server socket holds its listeners in its own slots and no further object.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from asyncio.tasks import _enter_task, _leave_task
from collections.abc import Callable, Coroutine, Generator
from functools import partial
from types import CoroutineType
from typing import Any, ClassVar, TypeVar, overload

from ._typed import original, validating

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["AnyListeners", "Emitter", "Listeners", "call_lenient", "drive", "invoke", "spawn"]

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


def spawn(
    coro: Coroutine[Any, Any, Any], logger: logging.Logger | None = None
) -> asyncio.Task[Any]:
    """Run ``coro`` in a Task that is kept alive until it finishes.

    With ``logger``, an exception that ends the task is logged there.
    """
    task = asyncio.get_running_loop().create_task(coro)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard if logger is None else partial(_task_done, logger))
    return task


def _task_done(logger: logging.Logger, task: asyncio.Task[Any]) -> None:
    _tasks.discard(task)
    if not task.cancelled() and (exc := task.exception()) is not None:
        logger.error("background task failed", exc_info=(type(exc), exc, exc.__traceback__))


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


Handler = Callable[..., Any]


class _Once:
    """The wrapper :meth:`Listeners.once` registers: it removes itself, then calls the listener."""

    __slots__ = ("event", "fired", "listener", "owner")

    def __init__(self, owner: Listeners, event: str, listener: Handler) -> None:
        self.owner = owner
        self.event = event
        self.listener = listener
        self.fired = False

    def __call__(self, *args: Any) -> Any:
        if self.fired:  # already called from an older copy of the handler list
            return None
        self.fired = True
        self.owner.off(self.event, self)
        return self.listener(*args)


def _original(registered: Handler) -> Handler:
    """The handler as the user registered it (without the once and validation wrappers)."""
    return original(registered.listener if type(registered) is _Once else registered)


def _remove(handlers: list[Handler], handler: Handler) -> None:
    for i, registered in enumerate(handlers):
        if registered is handler or _original(registered) is handler:
            del handlers[i]
            return


class Listeners:
    """Event name -> ordered handlers: ``on`` / ``once`` / ``off`` (the first two also decorators).

    A slotted base class, so that an object with listeners holds one dict and no further object.
    Handler errors are logged to the class's ``_logger``.
    """

    __slots__ = ("_handlers",)

    _logger: ClassVar[logging.Logger] = logging.getLogger("aiosio.server")
    #: whether event names must be strings (the client's events are; the server's may be numbers)
    _str_names: ClassVar[bool] = False

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}

    @overload
    def on(self, event: str, handler: F) -> F: ...
    @overload
    def on(self, event: str, handler: None = None) -> Callable[[F], F]: ...
    def on(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Register ``handler`` for ``event``; without ``handler``, return a decorator."""
        return self._register(event, handler, False)

    @overload
    def once(self, event: str, handler: F) -> F: ...
    @overload
    def once(self, event: str, handler: None = None) -> Callable[[F], F]: ...
    def once(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Like :meth:`on`, but the handler is removed after its first call."""
        return self._register(event, handler, True)

    def off(self, event: str | None = None, handler: Handler | None = None) -> None:
        """Remove ``handler`` from ``event``, every handler of ``event``, or every handler."""
        if event is None:
            self._handlers.clear()
            return
        if handler is None:
            self._handlers.pop(event, None)
            return
        handlers = self._handlers.get(event)
        if handlers:
            _remove(handlers, handler)
            if not handlers:
                del self._handlers[event]

    def listeners(self, event: str) -> list[Handler]:
        """A copy of the handlers of ``event``, in call order."""
        return [_original(h) for h in self._handlers.get(event, ())]

    def _register(self, event: str, handler: F | None, once: bool) -> F | Callable[[F], F]:
        if self._str_names and not isinstance(event, str):
            raise TypeError("event name must be a string")
        if handler is None:

            def decorator(fn: F) -> F:
                self._add_handler(event, fn, once)
                return fn

            return decorator
        self._add_handler(event, handler, once)
        return handler

    def _add_handler(self, event: str, handler: Handler, once: bool = False) -> None:
        if not callable(handler):
            raise TypeError("handler must be callable")
        handler = validating(handler)  # typed events: the handler, or a validating wrapper
        if once:
            handler = _Once(self, event, handler)
        self._handlers.setdefault(event, []).append(handler)

    def _call_handlers(self, event: str, args: tuple[Any, ...]) -> bool:
        """Call every handler of ``event`` with ``args``; return whether there was one."""
        handlers = self._handlers.get(event)
        if not handlers:
            return False
        label = f"{event!r} handler"
        for handler in tuple(handlers):
            invoke(handler, args, None, self._logger, label)
        return True

    def _emit_reserved(self, event: str, *args: Any) -> None:
        """Call every handler of ``event`` with as many of ``args`` as it accepts."""
        handlers = self._handlers.get(event)
        if handlers:
            label = f"{event!r} handler"
            for handler in tuple(handlers):
                call_lenient(handler, args, self._logger, label)


class AnyListeners(Listeners):
    """:class:`Listeners` plus catch-all listeners of incoming and of outgoing events.

    The catch-all lists are ``None`` until a listener is added.
    """

    __slots__ = ("_any", "_any_out")

    def __init__(self) -> None:
        super().__init__()
        self._any: list[Handler] | None = None
        self._any_out: list[Handler] | None = None

    def on_any(self, handler: F) -> F:
        """Call ``handler(event, *args)`` for every incoming event (usable as a decorator)."""
        self._any = _added(self._any, handler)
        return handler

    def prepend_any(self, handler: F) -> F:
        """Like :meth:`on_any`, but before the catch-all handlers already registered."""
        self._any = _added(self._any, handler, first=True)
        return handler

    def off_any(self, handler: Handler | None = None) -> None:
        """Remove one catch-all handler, or all of them."""
        self._any = _without(self._any, handler)

    def listeners_any(self) -> list[Handler]:
        """A copy of the catch-all handlers."""
        return list(self._any or ())

    def on_any_outgoing(self, handler: F) -> F:
        """Call ``handler(event, *args)`` for every event sent (not acknowledgements)."""
        self._any_out = _added(self._any_out, handler)
        return handler

    def prepend_any_outgoing(self, handler: F) -> F:
        """Like :meth:`on_any_outgoing`, but before the handlers already registered."""
        self._any_out = _added(self._any_out, handler, first=True)
        return handler

    def off_any_outgoing(self, handler: Handler | None = None) -> None:
        """Remove one outgoing catch-all handler, or all of them."""
        self._any_out = _without(self._any_out, handler)

    def listeners_any_outgoing(self) -> list[Handler]:
        """A copy of the outgoing catch-all handlers."""
        return list(self._any_out or ())


def _added(handlers: list[Handler] | None, handler: Handler, first: bool = False) -> list[Handler]:
    if handlers is None:
        return [handler]
    if first:
        handlers.insert(0, handler)
    else:
        handlers.append(handler)
    return handlers


def _without(handlers: list[Handler] | None, handler: Handler | None) -> list[Handler] | None:
    if handler is None or handlers is None:
        return None
    _remove(handlers, handler)
    return handlers or None


class Emitter(Listeners):
    """A small event emitter: :class:`Listeners` and a public :meth:`emit`."""

    __slots__ = ()

    def emit(self, event: str, *args: Any) -> bool:
        """Call every handler of ``event`` with ``args``; return whether there was one."""
        return self._call_handlers(event, args)
