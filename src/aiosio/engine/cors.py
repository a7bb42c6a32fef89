"""Cross-origin headers, as the reference's ``cors`` option produces them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from .http import Request

logger = logging.getLogger("aiosio.engine")

__all__ = ["CorsOption", "CorsPolicy"]

OriginRule: TypeAlias = str | Iterable[str] | Callable[[str], bool] | bool
CorsOption: TypeAlias = OriginRule | dict[str, Any] | None

_DEFAULT_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE"


@dataclass(slots=True, frozen=True)
class CorsPolicy:
    """Which origins may call the engine and what the preflight allows.

    ``origin`` is ``"*"`` (any, without credentials), ``True`` (reflect the request's origin), one
    origin, a collection of origins, or a callable that judges an origin.
    """

    origin: OriginRule = "*"
    credentials: bool = False
    methods: str = _DEFAULT_METHODS
    allowed_headers: str | None = None
    exposed_headers: str | None = None
    max_age: int | None = None
    _origins: frozenset[str] | None = field(default=None, repr=False)

    @classmethod
    def from_option(cls, option: CorsOption) -> CorsPolicy | None:
        """Build a policy from the server's ``cors`` option (``None`` means no CORS headers)."""
        if option is None or option is False:
            return None
        if isinstance(option, dict):
            opts = dict(option)
            methods = opts.pop("methods", _DEFAULT_METHODS)
            if not isinstance(methods, str):
                methods = ",".join(methods)
            allowed = opts.pop("allowed_headers", None)
            if allowed is not None and not isinstance(allowed, str):
                allowed = ",".join(allowed)
            exposed = opts.pop("exposed_headers", None)
            if exposed is not None and not isinstance(exposed, str):
                exposed = ",".join(exposed)
            policy = cls(
                origin=opts.pop("origin", "*"),
                credentials=bool(opts.pop("credentials", False)),
                methods=methods,
                allowed_headers=allowed,
                exposed_headers=exposed,
                max_age=opts.pop("max_age", None),
            )
            if opts:
                raise ValueError(f"unknown cors options: {sorted(opts)}")
            return _with_origin_set(policy)
        return _with_origin_set(cls(origin=option))

    def _allow_origin(self, origin: str | None) -> tuple[str | None, bool]:
        """The Access-Control-Allow-Origin value and whether it varies with the request."""
        rule = self.origin
        if rule == "*":
            return "*", False
        if rule is True:
            return origin, True
        if isinstance(rule, str):
            return rule, False
        if origin is None:
            return None, True
        if self._origins is not None:
            return (origin if origin in self._origins else None), True
        if callable(rule) and rule(origin):
            return origin, True
        return None, True

    def allows(self, origin: str) -> bool:
        """True when a request from ``origin`` may use the server."""
        rule = self.origin
        if rule == "*" or rule is True:
            return True
        if rule is False:
            return False
        if isinstance(rule, str):
            return origin == rule
        if self._origins is not None:
            return origin in self._origins
        if callable(rule):
            try:
                return bool(rule(origin))
            except Exception:
                logger.exception("the cors origin callable failed for %r", origin)
                return False
        return False

    def headers(self, request: Request) -> list[tuple[str, str]]:
        """Headers for an ordinary (non-preflight) response."""
        out: list[tuple[str, str]] = []
        allowed, varies = self._allow_origin(request.headers.get("origin"))
        if allowed is not None:
            out.append(("Access-Control-Allow-Origin", allowed))
        if varies:
            out.append(("Vary", "Origin"))
        if self.credentials:
            out.append(("Access-Control-Allow-Credentials", "true"))
        if self.exposed_headers:
            out.append(("Access-Control-Expose-Headers", self.exposed_headers))
        return out

    def preflight_headers(self, request: Request) -> list[tuple[str, str]]:
        """Headers for an ``OPTIONS`` preflight response."""
        out = self.headers(request)
        out.append(("Access-Control-Allow-Methods", self.methods))
        if self.allowed_headers is not None:
            out.append(("Access-Control-Allow-Headers", self.allowed_headers))
        else:
            requested = request.headers.get("access-control-request-headers")
            if requested:
                out.append(("Access-Control-Allow-Headers", requested))
                out.append(("Vary", "Access-Control-Request-Headers"))
        if self.max_age is not None:
            out.append(("Access-Control-Max-Age", str(self.max_age)))
        return out


def _with_origin_set(policy: CorsPolicy) -> CorsPolicy:
    """The policy, with a list of origins also held as a set for the lookups."""
    origin = policy.origin
    if isinstance(origin, str) or callable(origin) or isinstance(origin, bool):
        return policy
    return CorsPolicy(
        policy.origin,
        policy.credentials,
        policy.methods,
        policy.allowed_headers,
        policy.exposed_headers,
        policy.max_age,
        frozenset(origin),
    )
