"""The one place aiosio turns values into JSON text and back.

Output is compact (no spaces) like ``JSON.stringify``. orjson does the work; the standard library takes
over for what orjson refuses (integers beyond 64 bits, non-string keys), so every JSON-able value encodes.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["dumps", "loads"]

_OPTIONS = orjson.OPT_NON_STR_KEYS
_fallback = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _default(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> str:
    """Encode ``value`` as compact JSON text."""
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS).decode()
    except orjson.JSONEncodeError:
        try:
            return _fallback.encode(value)
        except ValueError:
            # NaN and infinities become null, as JSON.stringify does.
            return json.dumps(_nan_to_none(value), separators=(",", ":"), ensure_ascii=False)


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
