"""The listener registry shared by the server (Socket, Namespace, Server) and the client (Manager, Socket)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

from aiosio import Server
from aiosio._handlers import AnyListeners, Emitter, Listeners, spawn
from aiosio.client import Manager

URL = "http://127.0.0.1:9"


def _namespace() -> Listeners:
    return Server().of("/ns")


def _manager() -> Listeners:
    return Manager(URL)


def _client_socket() -> Listeners:
    return Manager(URL).socket("/")


REGISTRIES: list[Callable[[], Listeners]] = [
    Emitter,
    AnyListeners,
    _namespace,
    _manager,
    _client_socket,
]


@pytest.fixture(params=REGISTRIES, ids=lambda f: f.__name__.strip("_"))
def registry(request: pytest.FixtureRequest) -> Listeners:
    factory: Callable[[], Listeners] = request.param
    return factory()


def fire(registry: Listeners, event: str, *args: Any) -> None:
    for handler in list(registry._handlers.get(event, ())):
        handler(*args)


async def test_on_and_once_direct_and_as_decorators(registry: Listeners) -> None:
    seen: list[tuple[str, int]] = []

    def plain(x: int) -> None:
        seen.append(("plain", x))

    assert registry.on("e", plain) is plain

    @registry.on("e")
    def decorated(x: int) -> None:
        seen.append(("decorated", x))

    def one(x: int) -> None:
        seen.append(("one", x))

    assert registry.once("e", one) is one

    @registry.once("e")
    def decorated_once(x: int) -> None:
        seen.append(("decorated_once", x))

    assert registry.listeners("e") == [plain, decorated, one, decorated_once]
    fire(registry, "e", 1)
    fire(registry, "e", 2)
    assert seen == [
        ("plain", 1),
        ("decorated", 1),
        ("one", 1),
        ("decorated_once", 1),
        ("plain", 2),
        ("decorated", 2),
    ]
    assert registry.listeners("e") == [plain, decorated]


async def test_once_runs_once_even_from_an_older_copy_of_the_list(registry: Listeners) -> None:
    seen: list[int] = []
    registry.once("e", seen.append)
    stale = list(registry._handlers["e"])
    fire(registry, "e", 1)
    for handler in stale:
        handler(2)
    assert seen == [1]


async def test_off_one_handler_an_event_or_everything(registry: Listeners) -> None:
    def a() -> None: ...
    def b() -> None: ...

    registry.on("x", a)
    registry.once("x", b)
    registry.on("y", a)
    registry.off("x", b)  # a once handler is removed by the function it wraps
    assert registry.listeners("x") == [a]
    registry.off("x", b)  # not registered (any more): nothing happens
    registry.off("nothing", a)
    registry.off("x", a)
    assert registry.listeners("x") == []
    assert "x" not in registry._handlers
    registry.on("x", a)
    registry.off("x")
    assert registry.listeners("x") == []
    assert registry.listeners("y") == [a]
    registry.on("z", b)
    registry.off()
    assert registry.listeners("y") == registry.listeners("z") == []


async def test_listeners_is_a_copy(registry: Listeners) -> None:
    registry.on("e", print)
    registry.listeners("e").clear()
    assert registry.listeners("e") == [print]


async def test_handlers_must_be_callable(registry: Listeners) -> None:
    with pytest.raises(TypeError, match="callable"):
        registry.on("e", 42)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="callable"):
        registry.once("e", 42)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="callable"):
        registry.once("e")(42)  # type: ignore[type-var]
    assert registry.listeners("e") == []


@pytest.mark.parametrize("factory", [_manager, _client_socket])
async def test_client_event_names_must_be_strings(factory: Callable[[], Listeners]) -> None:
    registry = factory()
    for register in (registry.on, registry.once):
        with pytest.raises(TypeError, match="string"):
            register(1, print)  # type: ignore[call-overload]
        with pytest.raises(TypeError, match="string"):
            register(1)  # type: ignore[call-overload]


async def test_server_event_names_may_be_numbers() -> None:
    # the wire allows numeric event names, so the server may listen to them
    nsp = _namespace()
    nsp.on(1, print)  # type: ignore[call-overload]
    assert nsp.listeners(1) == [print]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("factory", "logger"),
    [(_namespace, "aiosio.server"), (_manager, "aiosio.client"), (_client_socket, "aiosio.client")],
)
async def test_a_raising_handler_is_logged_to_its_side(
    factory: Callable[[], Listeners], logger: str, caplog: pytest.LogCaptureFixture
) -> None:
    registry = factory()
    seen: list[Any] = []

    def broken(*args: Any) -> None:
        raise RuntimeError("handler failure")

    registry.on("e", broken)
    registry.on("e", lambda: seen.append("fewer arguments"))
    registry.on("e", lambda a, b: seen.append((a, b)))
    with caplog.at_level(logging.ERROR):
        registry._emit_reserved("e", 1, 2, 3)
    assert seen == ["fewer arguments", (1, 2)]
    [record] = caplog.records
    assert record.name == logger
    assert record.exc_info is not None
    assert "handler failure" in caplog.text


async def test_emitter_emit_passes_every_argument_and_says_whether_anyone_listened(
    caplog: pytest.LogCaptureFixture,
) -> None:
    emitter = Emitter()
    seen: list[tuple[Any, ...]] = []
    assert emitter.emit("e", 1) is False
    emitter.on("e", lambda *args: seen.append(args))
    emitter.on("e", lambda: None)  # takes no argument: called with one, it raises and is logged
    with caplog.at_level(logging.ERROR, logger="aiosio.server"):
        assert emitter.emit("e", 1) is True
    assert seen == [(1,)]
    assert [r.name for r in caplog.records] == ["aiosio.server"]


@pytest.mark.parametrize("factory", [AnyListeners, _client_socket])
async def test_catch_all_listeners(factory: Callable[[], AnyListeners]) -> None:
    registry = factory()

    def a() -> None: ...
    def b() -> None: ...
    def c() -> None: ...

    assert registry.listeners_any() == registry.listeners_any_outgoing() == []
    assert registry.on_any(a) is a
    assert registry.prepend_any(b) is b
    registry.on_any(c)
    assert registry.listeners_any() == [b, a, c]
    registry.off_any(a)
    registry.off_any(print)
    assert registry.listeners_any() == [b, c]
    registry.listeners_any().clear()
    assert registry.listeners_any() == [b, c]
    registry.off_any()
    assert registry.listeners_any() == []
    registry.off_any(a)

    assert registry.on_any_outgoing(a) is a
    assert registry.prepend_any_outgoing(b) is b
    assert registry.listeners_any_outgoing() == [b, a]
    assert registry.listeners_any() == []
    registry.off_any_outgoing(b)
    assert registry.listeners_any_outgoing() == [a]
    registry.off_any_outgoing()
    assert registry.listeners_any_outgoing() == []


def test_registries_add_no_instance_dict() -> None:
    for registry in (Emitter(), AnyListeners(), _client_socket()):
        assert not hasattr(registry, "__dict__")


async def test_spawn_logs_a_failing_task_when_given_a_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fail() -> None:
        raise RuntimeError("background failure")

    logger = logging.getLogger("aiosio.client")
    with caplog.at_level(logging.ERROR, logger="aiosio.client"):
        task = spawn(fail(), logger)
        await asyncio.wait([task])
        await asyncio.sleep(0)
    assert "background failure" in caplog.text
    assert [r.name for r in caplog.records] == ["aiosio.client"]
