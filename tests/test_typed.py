"""Typed events: pydantic validation of handler arguments, on the server and the client; the JSON hook."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import decimal
import enum
import logging
import uuid
from typing import Any

import pydantic
import pytest

import aiosio
import aiosio.testing
from aiosio import _json
from aiosio._typed import validating


class Order(pydantic.BaseModel):
    item: str
    quantity: int = 1


class Receipt(pydantic.BaseModel):
    item: str
    total: float
    at: datetime.datetime


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Color(enum.Enum):
    RED = "red"


AT = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC)


def shop() -> tuple[aiosio.Server, list[Any]]:
    io = aiosio.Server()
    seen: list[Any] = []

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        @socket.on("order")
        async def order(data: Order, note: str = "") -> Receipt:
            await asyncio.sleep(0)
            seen.append((data, note))
            return Receipt(item=data.item, total=data.quantity * 2.5, at=AT)

        @socket.on("orders")
        def orders(*items: Order) -> int:
            seen.append(items)
            return sum(i.quantity for i in items)

        @socket.on("move")
        def move(point: Point) -> list[int]:
            seen.append(point)
            return [point.x, point.y]

        @socket.on("ask_client")
        async def ask_client(payload: Any) -> Any:
            return await socket.timeout(2).emit_with_ack("order", payload)

    return io, seen


async def test_valid_payload_arrives_as_a_model_and_the_returned_model_is_serialized() -> None:
    io, seen = shop()
    async with aiosio.testing.connect(io) as client:
        answer = await client.emit_with_ack("order", {"item": "tea", "quantity": "3"}, "fast")
        assert answer == {"item": "tea", "total": 7.5, "at": "2024-05-01T12:30:00Z"}
        assert seen == [(Order(item="tea", quantity=3), "fast")]
        assert (
            await client.emit_with_ack("orders", {"item": "a"}, {"item": "b", "quantity": 2}) == 3
        )
        assert await client.emit_with_ack("move", {"x": 1, "y": "2"}) == [1, 2]
        assert seen[-1] == Point(1, 2)


async def test_invalid_payload_answers_with_an_error_and_logs_at_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    io, seen = shop()
    async with aiosio.testing.connect(io) as client:
        with caplog.at_level(logging.INFO, logger="aiosio.typed"):
            answer = await client.emit_with_ack("order", {"quantity": "many"}, 5)
        assert answer["error"] == "invalid arguments"
        assert {(d["argument"], tuple(d["loc"]), d["type"]) for d in answer["details"]} == {
            ("data", ("item",), "missing"),
            ("data", ("quantity",), "int_parsing"),
            ("note", (), "string_type"),
        }
        assert seen == []
        [record] = [r for r in caplog.records if r.name == "aiosio.typed"]
        assert record.levelno == logging.INFO
        assert "order" in record.getMessage()
        assert "data.item" in record.getMessage()
        # Missing arguments, no ack asked: nothing crashes, the connection goes on.
        assert (await client.emit_with_ack("order"))["details"][0]["type"] == "missing"
        client.emit("order", "not an object")
        assert await client.emit_with_ack("move", {"x": 0, "y": 0}) == [0, 0]
        assert seen == [Point(0, 0)]


async def test_client_handlers_are_validated_too() -> None:
    io, _ = shop()
    async with aiosio.testing.connect(io) as client:
        got: list[Order] = []

        @client.on("order")
        def order(data: Order) -> Order:
            got.append(data)
            return Order(item=data.item.upper(), quantity=data.quantity)

        assert await client.emit_with_ack("ask_client", {"item": "x"}) == {
            "item": "X",
            "quantity": 1,
        }
        assert got == [Order(item="x")]
        bad = await client.emit_with_ack("ask_client", {"item": ["no"]})
        assert bad["error"] == "invalid arguments"
        assert len(got) == 1


async def test_json_hook_for_emits_of_custom_types() -> None:
    io = aiosio.Server()
    uid = uuid.UUID("12345678-1234-5678-1234-567812345678")
    aiosio.register_json_type(decimal.Decimal, str)

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.emit(
            "types",
            AT,
            datetime.date(2024, 5, 1),
            uid,
            Point(1, 2),
            Order(item="tea"),
            Color.RED,
            decimal.Decimal("1.10"),
            {"nested": [Receipt(item="a", total=1, at=AT)], "big": 2**70},
        )

    async with aiosio.testing.connect(io) as client:
        assert await client.receive() == (
            "types",
            "2024-05-01T12:30:00+00:00",
            "2024-05-01",
            str(uid),
            {"x": 1, "y": 2},
            {"item": "tea", "quantity": 1},
            "red",
            "1.10",
            {"nested": [{"item": "a", "total": 1.0, "at": "2024-05-01T12:30:00Z"}], "big": 2**70},
        )
    with pytest.raises(TypeError):
        _json.dumps(object())
    with pytest.raises(TypeError):
        aiosio.register_json_type("not a type", str)  # type: ignore[arg-type]


def test_plain_annotations_are_not_wrapped_and_off_finds_wrapped_handlers() -> None:
    def plain(text: str, n: int) -> str:
        return text * n

    def typed(order: Order) -> None:
        return None

    assert validating(plain) is plain

    def untyped(x, *rest):  # type: ignore[no-untyped-def]
        return x

    assert validating(untyped) is untyped
    wrapped = validating(typed)
    assert wrapped is not typed
    assert wrapped.__wrapped__ is typed  # type: ignore[attr-defined]

    io = aiosio.Server()
    nsp = io.of("/")
    nsp.on("x", typed)
    nsp.once("y", typed)
    assert nsp.listeners("x") == [typed]
    assert nsp.listeners("y") == [typed]
    nsp.off("x", typed)
    nsp.off("y", typed)
    assert nsp.listeners("x") == []
    assert nsp.listeners("y") == []
