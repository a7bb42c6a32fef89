"""Typed events: handler arguments validated with pydantic v2, from the handler's annotations.

A handler is validated when pydantic is imported and one of its parameters is annotated with a
pydantic model or a dataclass (also inside ``list[...]``, ``X | None``, ``Annotated[...]``...)::

    class Order(pydantic.BaseModel):
        item: str
        quantity: int = 1

    @socket.on("order")
    async def order(data: Order, note: str = "") -> Receipt:   # data arrives as an Order
        ...

Every annotated parameter of such a handler is then validated (``note`` too); the others are left
as they are. A payload that does not validate never reaches the handler: the acknowledgement (if the
sender asked for one) is answered with ``{"error": "invalid arguments", "details": [...]}``, and a line
is logged at INFO under ``aiosio.typed``. Returned models and models passed to ``emit`` are serialized
by the JSON codec (``model_dump(mode="json")``). Handlers annotated with plain types only (``text: str``)
are not wrapped and cost nothing more; without pydantic imported nothing here runs at all.

The server's and the client's handlers are registered through :class:`aiosio._handlers.Listeners`,
which calls :func:`validating` once per registration; what it finds out about a function is cached
per code object, so handlers registered on every connection pay a dictionary lookup.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import sys
import typing
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["INVALID", "original", "validating"]

_logger = logging.getLogger("aiosio.typed")

#: The ``error`` field of the acknowledgement that answers an invalid payload.
INVALID = "invalid arguments"

_MISSING: Any = object()
_CACHE_LIMIT = 4096
_plans: dict[Any, _Plan | None] = {}
_wrappers: weakref.WeakSet[Callable[..., Any]] = weakref.WeakSet()


class _InvalidArgumentsError(Exception):
    def __init__(self, details: list[dict[str, Any]]) -> None:
        super().__init__(details)
        self.details = details


def _is_model_type(tp: Any, seen: int = 0) -> bool:
    """Whether ``tp`` is, or holds, a pydantic model or a dataclass."""
    if seen > 8:
        return False
    if isinstance(tp, type):
        if dataclasses.is_dataclass(tp):
            return True
        pydantic = sys.modules.get("pydantic")
        if pydantic is not None and issubclass(tp, pydantic.BaseModel):
            return True
    return any(_is_model_type(arg, seen + 1) for arg in typing.get_args(tp))


class _Plan:
    """What to validate for one function: an adapter per positional parameter, and for ``*args``."""

    __slots__ = ("names", "params", "required", "var")

    def __init__(self, names: list[str], params: list[Any], required: int, var: Any) -> None:
        self.names = names
        self.params = params
        self.required = required
        self.var = var

    def validate(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        from pydantic import ValidationError

        if len(args) < self.required:
            missing = self.names[len(args) : self.required]
            raise _InvalidArgumentsError(
                [
                    {"argument": n, "loc": [], "msg": "missing argument", "type": "missing"}
                    for n in missing
                ]
            )
        params = self.params
        count = len(params)
        out = list(args)
        details: list[dict[str, Any]] = []
        for i, arg in enumerate(args):
            if i < count:
                adapter, name = params[i], self.names[i]
            else:
                adapter, name = self.var, f"*{i - count}"
            if adapter is None:
                continue
            try:
                out[i] = adapter.validate_python(arg)
            except ValidationError as exc:
                for error in exc.errors(
                    include_url=False, include_context=False, include_input=False
                ):
                    details.append(
                        {
                            "argument": name,
                            "loc": list(error["loc"]),
                            "msg": error["msg"],
                            "type": error["type"],
                        }
                    )
        if details:
            raise _InvalidArgumentsError(details)
        return tuple(out)


def _closure_names(fn: Callable[..., Any]) -> dict[str, Any]:
    """The free variables of ``fn`` with their current values (a model class defined locally)."""
    code = getattr(fn, "__code__", None)
    cells = getattr(fn, "__closure__", None) or ()
    names: dict[str, Any] = {}
    for name, cell in zip(getattr(code, "co_freevars", ()), cells, strict=False):
        try:
            names[name] = cell.cell_contents
        except ValueError:  # not yet assigned
            continue
    return names


def _make_plan(fn: Callable[..., Any]) -> tuple[_Plan | None, bool]:
    """The plan for ``fn``, and whether it holds for every function of the same code."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None, True
    raw = {
        name: param.annotation
        for name, param in signature.parameters.items()
        if param.annotation is not inspect.Parameter.empty
    }
    if not raw:
        return None, True
    cacheable = True
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:
        # Text annotations naming a class defined in the enclosing function: resolve them with
        # the closure's values, which differ from one definition of the function to the next.
        cacheable = False
        try:
            hints = typing.get_type_hints(fn, localns=_closure_names(fn), include_extras=True)
        except Exception as exc:
            if any(isinstance(a, str) and _mentions_model(a) for a in raw.values()):
                _logger.warning(
                    "%s: its annotations cannot be resolved (%s); its arguments are not validated",
                    getattr(fn, "__qualname__", fn),
                    exc,
                )
            return None, False
    if not any(_is_model_type(hints[name]) for name in raw if name in hints):
        return None, cacheable
    from pydantic import TypeAdapter

    names: list[str] = []
    params: list[Any] = []
    required = 0
    var = None
    for name, param in signature.parameters.items():
        kind = param.kind
        hint = hints.get(name, _MISSING)
        adapter = None if hint is _MISSING or hint is Any else TypeAdapter(hint)
        if kind is inspect.Parameter.VAR_POSITIONAL:
            var = adapter
            break
        if kind not in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            break
        names.append(name)
        params.append(adapter)
        if param.default is inspect.Parameter.empty:
            required = len(names)
    return _Plan(names, params, required, var), cacheable


def _mentions_model(annotation: str) -> bool:
    # Unresolvable text: warn only when it may name a model (a capitalized name not of typing).
    return any(
        part[:1].isupper() for part in annotation.replace("[", " ").replace("|", " ").split()
    )


def _plan_for(fn: Callable[..., Any]) -> _Plan | None:
    code = getattr(fn, "__code__", None)
    key: Any = None
    if code is not None:
        key = (code, tuple(getattr(fn, "__annotations__", {}).items()), inspect.ismethod(fn))
        try:
            cached: _Plan | None = _plans.get(key, _MISSING)
        except TypeError:  # an unhashable annotation: no caching
            key = None
        else:
            if cached is not _MISSING:
                return cached
    plan, cacheable = _make_plan(fn)
    if key is not None and cacheable:
        if len(_plans) >= _CACHE_LIMIT:
            _plans.clear()
        _plans[key] = plan
    return plan


def _answer(fn: Callable[..., Any], invalid: _InvalidArgumentsError) -> dict[str, Any]:
    _logger.info(
        "%s: invalid arguments: %s",
        getattr(fn, "__qualname__", fn),
        "; ".join(
            f"{d['argument']}{''.join(f'.{p}' for p in d['loc'])}: {d['msg']}"
            for d in invalid.details
        ),
    )
    return {"error": INVALID, "details": invalid.details}


def _serialized(result: Any) -> Any:
    """A returned model (or a tuple of values) as plain JSON data, ready for the fast encoder."""
    if isinstance(result, tuple):
        return tuple(_serialized(value) for value in result)
    dump = getattr(result, "model_dump", None)
    if dump is not None and not isinstance(result, type):
        return dump(mode="json")
    return result


def validating(handler: Callable[..., Any]) -> Callable[..., Any]:
    """``handler`` itself, or a wrapper validating its arguments (see the module docstring)."""
    if "pydantic" not in sys.modules or not getattr(handler, "__annotations__", None):
        return handler
    plan = _plan_for(handler)
    if plan is None:
        return handler
    validate = plan.validate
    wrapper: Callable[..., Any]
    if inspect.iscoroutinefunction(handler):

        async def validated_async(*args: Any) -> Any:
            try:
                args = validate(args)
            except _InvalidArgumentsError as invalid:
                return _answer(handler, invalid)
            return _serialized(await handler(*args))

        wrapper = validated_async
    else:

        def validated(*args: Any) -> Any:
            try:
                args = validate(args)
            except _InvalidArgumentsError as invalid:
                return _answer(handler, invalid)
            return _serialized(handler(*args))

        wrapper = validated
    functools.update_wrapper(wrapper, handler)
    _wrappers.add(wrapper)
    return wrapper


def original(handler: Callable[..., Any]) -> Callable[..., Any]:
    """The handler a validating wrapper was made for (any other callable as it is)."""
    if handler in _wrappers:
        return typing.cast(Callable[..., Any], handler.__wrapped__)  # type: ignore[attr-defined]
    return handler
