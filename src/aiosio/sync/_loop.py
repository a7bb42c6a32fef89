"""The one background event loop the blocking clients share, on a daemon thread.

Every blocking client runs its asyncio client on this loop; callers on other threads hand it work with
:func:`run` (a coroutine) or :func:`call` (a plain function) and wait for the result. The loop starts on
first use. At interpreter exit (``atexit``) every client still open is closed and the loop stops, so no
connection is left half-open and no thread is left behind. After ``os.fork`` the child starts a fresh
loop on first use.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import logging
import os
import threading
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["call", "get_loop", "register", "run", "unregister"]

T = TypeVar("T")

_logger = logging.getLogger("aiosio.client")
_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
AsyncClose = Callable[[], Coroutine[Any, Any, None]]
#: open blocking clients -> their closing coroutine method (both held weakly)
_clients: weakref.WeakKeyDictionary[object, weakref.WeakMethod[AsyncClose]] = (
    weakref.WeakKeyDictionary()
)
_EXIT_TIMEOUT = 5.0


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _serve(loop: asyncio.AbstractEventLoop, started: threading.Event) -> None:
    asyncio.set_event_loop(loop)
    loop.call_soon(started.set)
    try:
        loop.run_forever()
    finally:
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def get_loop() -> asyncio.AbstractEventLoop:
    """The shared loop, started on first use."""
    global _loop, _thread
    with _lock:
        if _loop is None or _loop.is_closed() or _thread is None or not _thread.is_alive():
            loop = _new_loop()
            started = threading.Event()
            thread = threading.Thread(
                target=_serve, args=(loop, started), name="aiosio-sync-loop", daemon=True
            )
            thread.start()
            started.wait()
            _loop, _thread = loop, thread
        return _loop


def in_loop_thread() -> bool:
    """Whether the caller runs on the loop's own thread (blocking there would deadlock)."""
    return _thread is not None and threading.current_thread() is _thread


def run(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coro`` on the loop and wait for its result (its exception is raised here)."""
    if in_loop_thread():
        coro.close()
        raise RuntimeError("a blocking client call was made on its own event loop's thread")
    future = asyncio.run_coroutine_threadsafe(coro, get_loop())
    try:
        return future.result(timeout)
    except BaseException:
        # Timed out or interrupted (Ctrl+C) while waiting: stop the work too.
        if not future.done():
            future.cancel()
        raise


def call(fn: Callable[..., T], *args: Any) -> T:
    """Call ``fn(*args)`` on the loop's thread and return its result."""
    if in_loop_thread():
        return fn(*args)
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def step() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn(*args))
        except BaseException as exc:
            future.set_exception(exc)

    get_loop().call_soon_threadsafe(step)
    return future.result()


def register(client: object, aclose: AsyncClose) -> None:
    """Run ``aclose()`` (a method of ``client``, run on the loop) at interpreter exit if ``client``
    is still open then. Neither is kept alive by this."""
    _clients[client] = weakref.WeakMethod(aclose)


def unregister(client: object) -> None:
    """``client`` closed itself; forget it."""
    _clients.pop(client, None)


async def _close_all() -> None:
    closers = [method() for method in _clients.values()]
    _clients.clear()
    results = await asyncio.gather(
        *(close() for close in closers if close is not None), return_exceptions=True
    )
    for result in results:
        if isinstance(result, Exception):
            _logger.debug("closing a blocking client at exit failed: %r", result)


@atexit.register
def _shutdown() -> None:
    global _loop, _thread
    loop, thread = _loop, _thread
    if loop is None or thread is None or not thread.is_alive() or loop.is_closed():
        return
    if _clients:
        future = asyncio.run_coroutine_threadsafe(_close_all(), loop)
        with contextlib.suppress(Exception):
            future.result(_EXIT_TIMEOUT)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(_EXIT_TIMEOUT)
    _loop = _thread = None


def _after_fork() -> None:
    global _loop, _thread, _lock
    _lock = threading.Lock()
    _loop = _thread = None
    _clients.clear()


os.register_at_fork(after_in_child=_after_fork)
