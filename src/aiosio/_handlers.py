"""Calling user handlers: plain functions directly, coroutines each in their own asyncio Task.

A coroutine handler is user code: it must be able to use ``asyncio.timeout``, ``TaskGroup``,
``wait_for`` and every driver built on them (redis-py, asyncpg, aiohttp, httpx), see itself as
``asyncio.current_task()`` and run in its own copy of the context. So every coroutine a handler
returns runs in a Task of its own from its first line (:func:`start`).

On Python 3.12 and newer the Task starts eagerly: it runs synchronously up to its first real
suspension, inside the Task, before :func:`start` returns. Handlers therefore still start in packet
order, a handler that never suspends costs no scheduling (measured: about 0.5 us against 4-6 us for a
scheduled Task), and what the handlers of a polling POST send leaves with that POST's response. On 3.11
the Task is scheduled as usual and starts on the next turn of the loop.

A handler that raises is logged with its traceback; the exception never reaches the caller. A plain
``def`` handler is called directly, in the caller's frame.

The listener registry of the server (Socket, Namespace, Server) and of the client (Manager, Socket)
lives here too: :class:`Listeners` (``on`` / ``once`` / ``off``), :class:`AnyListeners` (plus the
catch-all listeners) and :class:`Emitter` (plus a public ``emit``). They are slotted base classes,
so that a server socket holds its listeners in its own slots and no further object.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
from collections.abc import Callable, Coroutine
from functools import partial
from types import CoroutineType
from typing import Any, ClassVar, TypeVar, overload

from ._typed import original, validating

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "EAGER_TASKS",
    "Ack",
    "AnyListeners",
    "Emitter",
    "Listeners",
    "call_lenient",
    "invoke",
    "is_coroutine",
    "spawn",
    "start",
]

#: Whether :func:`start` runs a coroutine eagerly (Python 3.12+) or schedules it (3.11).
EAGER_TASKS = sys.version_info >= (3, 12)

#: Tasks that are still running: the loop keeps only weak references to tasks.
_tasks: set[asyncio.Task[Any]] = set()


def is_coroutine(value: Any) -> bool:
    """Whether ``value`` is a coroutine object (the exact type is checked first: it is the common case)."""
    return type(value) is CoroutineType or inspect.iscoroutine(value)


def _call_done(done: Callable[[Any], None], value: Any, logger: logging.Logger, label: str) -> None:
    try:
        done(value)
    except Exception:
        logger.exception("acknowledgement of %s raised", label)


def _report(
    done: Callable[[Any], None] | None,
    logger: logging.Logger,
    label: str,
    task: asyncio.Task[Any],
) -> None:
    """What happens when a handler's task ends: log its exception, or pass its value to ``done``."""
    _tasks.discard(task)
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        logger.error("%s raised", label, exc_info=(type(exc), exc, exc.__traceback__))
    elif done is not None:
        _call_done(done, task.result(), logger, label)


def start(
    coro: Coroutine[Any, Any, Any],
    done: Callable[[Any], None] | None,
    logger: logging.Logger,
    label: str,
) -> asyncio.Task[Any] | None:
    """Run ``coro`` in a Task of its own and pass its value to ``done`` when it returns.

    An exception is logged, and ``done`` is then not called; a cancelled task is silent. Returns the
    Task while it runs, or ``None`` when it finished before this call returned (an eager task that
    never suspended).
    """
    loop = asyncio.get_running_loop()
    if EAGER_TASKS:
        task = asyncio.Task(coro, loop=loop, eager_start=True)  # type: ignore[call-arg,unused-ignore]
        if task.done():
            _report(done, logger, label, task)
            return None
    else:
        task = loop.create_task(coro)
    _tasks.add(task)
    task.add_done_callback(partial(_report, done, logger, label))
    return task


def spawn(
    coro: Coroutine[Any, Any, Any], logger: logging.Logger | None = None
) -> asyncio.Task[Any]:
    """Run ``coro`` in a (scheduled) Task that is kept alive until it finishes.

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


def invoke(
    fn: Callable[..., Any],
    args: tuple[Any, ...] | list[Any],
    done: Callable[[Any], None] | None,
    logger: logging.Logger,
    label: str,
) -> asyncio.Task[Any] | None:
    """Call ``fn(*args)``; pass its result (awaited in a Task if it is a coroutine) to ``done``.

    Exceptions are logged, never raised; ``done`` is then not called. Returns the Task of a coroutine
    that is still running, else ``None``.
    """
    try:
        result = fn(*args)
    except Exception:
        logger.exception("%s raised", label)
        return None
    if result is not None and is_coroutine(result):
        return start(result, done, logger, label)
    if done is not None:
        _call_done(done, result, logger, label)
    return None


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


class Ack:
    """The answer to one acknowledgement the peer asked for: sent once, by whoever answers first.

    The first event handler's return value answers through :meth:`answer`; for an event without
    handlers, a catch-all listener that takes a keyword-only ``ack`` parameter gets this object and
    answers by calling it, like the reference's ``ack(...)`` function: ``ack()`` (no argument),
    ``ack(value)``, ``ack(a, b)``.
    """

    __slots__ = ("_send", "sent")

    def __init__(self, send: Callable[[Any], None]) -> None:
        self._send = send
        #: whether the answer has left
        self.sent = False

    def __call__(self, *values: Any) -> None:
        """Answer with ``values`` as the acknowledgement's arguments (later answers are ignored)."""
        if len(values) == 1 and type(values[0]) is not tuple:
            self.answer(values[0])
        else:
            self.answer(values or None)

    def answer(self, result: Any) -> None:
        """Answer with a handler's return value: ``None`` (no argument), a tuple, or one value."""
        if self.sent:
            return
        self.sent = True
        self._send(result)


def takes_ack(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` has a keyword-only ``ack`` parameter (a catch-all that answers acks)."""
    try:
        parameter = inspect.signature(fn).parameters.get("ack")
    except (TypeError, ValueError):
        return False
    return parameter is not None and parameter.kind is inspect.Parameter.KEYWORD_ONLY


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

    __slots__ = ("_any", "_any_acks", "_any_out")

    def __init__(self) -> None:
        super().__init__()
        self._any: list[Handler] | None = None
        #: the catch-all listeners that take an ``ack`` keyword (see :meth:`on_any`)
        self._any_acks: set[Handler] | None = None
        self._any_out: list[Handler] | None = None

    def on_any(self, handler: F) -> F:
        """Call ``handler(event, *args)`` for every incoming event (usable as a decorator).

        A handler with a keyword-only ``ack`` parameter can answer the acknowledgement the peer asked
        for, for events that have no handler of their own (an event's handlers answer with the first
        one's return value): it gets ``ack=`` an :class:`Ack`, or ``None`` when there is nothing to
        answer, and calls it with the answer's arguments, at once or later::

            @socket.on_any
            async def gateway(event: str, *args: Any, ack: Ack | None = None) -> None:
                answer = await upstream.call(event, args)
                if ack is not None:
                    ack(answer)
        """
        self._any = _added(self._any, handler)
        self._note_ack(handler)
        return handler

    def prepend_any(self, handler: F) -> F:
        """Like :meth:`on_any`, but before the catch-all handlers already registered."""
        self._any = _added(self._any, handler, first=True)
        self._note_ack(handler)
        return handler

    def off_any(self, handler: Handler | None = None) -> None:
        """Remove one catch-all handler, or all of them."""
        self._any = _without(self._any, handler)
        if self._any is None:
            self._any_acks = None
        elif self._any_acks is not None:
            self._any_acks.discard(handler)

    def _note_ack(self, handler: Handler) -> None:
        if takes_ack(handler):
            if self._any_acks is None:
                self._any_acks = set()
            self._any_acks.add(handler)

    def _start_any(self, data: list[Any], ack: Ack | None) -> list[asyncio.Task[Any]]:
        """Call every catch-all listener with ``data`` (``[event, *args]``); the tasks still running."""
        running: list[asyncio.Task[Any]] = []
        acks = self._any_acks
        for handler in list(self._any or ()):
            fn = handler
            if acks is not None and handler in acks:
                fn = partial(handler, ack=ack)
            task = invoke(fn, data, None, self._logger, "catch-all handler")
            if task is not None:
                running.append(task)
        return running

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
