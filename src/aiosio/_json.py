"""The one place aiosio turns values into JSON text and back.

Output is compact (no spaces) like ``JSON.stringify``. orjson does the work; the standard library takes
over for what orjson refuses (integers beyond 64 bits, non-string keys), so every JSON-able value encodes.

Beyond JSON's own types, emits may carry ``datetime`` / ``date`` / ``time`` (ISO 8601 text), ``UUID``
(text), dataclasses (objects), enums (their value), sets and tuples (arrays), pydantic models
(``model_dump(mode="json")``), and any type given an encoder with :func:`register_type`. The fast path
never looks at them: they cost only when they appear.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import uuid
from collections.abc import Callable
from typing import Any

import orjson

__all__ = ["dumps", "loads", "register_type"]

_OPTIONS = orjson.OPT_NON_STR_KEYS
_encoders: dict[type, Callable[[Any], Any]] = {}


def register_type(cls: type, encode: Callable[[Any], Any]) -> None:
    """Emit instances of ``cls`` (and its subclasses) as ``encode(value)``, which returns JSON-able data.

    ``aiosio.register_json_type(Decimal, str)`` makes ``Decimal`` values travel as strings. Types
    that orjson encodes itself (``datetime``, ``UUID``, dataclasses, enums) keep its form.
    """
    if not isinstance(cls, type):
        raise TypeError("cls must be a type")
    if not callable(encode):
        raise TypeError("encode must be callable")
    _encoders[cls] = encode


def _default(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if _encoders:
        for cls in type(value).__mro__:
            encode = _encoders.get(cls)
            if encode is not None:
                return encode(value)
    dump = getattr(value, "model_dump", None)  # a pydantic v2 model
    if dump is not None and callable(dump) and not isinstance(value, type):
        return dump(mode="json")
    # What orjson encodes natively, for the standard library fallback:
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_fallback = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default
)


def dumps(value: Any) -> str:
    """Encode ``value`` as compact JSON text."""
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS).decode()
    except orjson.JSONEncodeError:
        try:
            return _fallback.encode(value)
        except ValueError:
            # NaN and infinities become null, as JSON.stringify does.
            return json.dumps(
                _nan_to_none(value), separators=(",", ":"), ensure_ascii=False, default=_default
            )


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nan_to_none(v) for v in value]
    return value


loads = orjson.loads
"""Decode JSON text (``str`` or ``bytes``); raises ``ValueError`` on bad input."""
