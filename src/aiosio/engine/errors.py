"""The one place where engine errors become what the HTTP peer sees.

The reference engine answers a refused request with a status (403 for ``FORBIDDEN``, 400 otherwise) and a
JSON body ``{"code": N, "message": "..."}`` using the codes below.
"""

from __future__ import annotations

from enum import IntEnum

from .. import _json
from ..exceptions import RequestRefused
from .http import Response

__all__ = ["ErrorCode", "RequestRefused", "error_response"]


class ErrorCode(IntEnum):
    """The reference's handshake and routing error codes."""

    UNKNOWN_TRANSPORT = 0
    UNKNOWN_SID = 1
    BAD_HANDSHAKE_METHOD = 2
    BAD_REQUEST = 3
    FORBIDDEN = 4
    UNSUPPORTED_PROTOCOL_VERSION = 5


ERROR_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.UNKNOWN_TRANSPORT: "Transport unknown",
    ErrorCode.UNKNOWN_SID: "Session ID unknown",
    ErrorCode.BAD_HANDSHAKE_METHOD: "Bad handshake method",
    ErrorCode.BAD_REQUEST: "Bad request",
    ErrorCode.FORBIDDEN: "Forbidden",
    ErrorCode.UNSUPPORTED_PROTOCOL_VERSION: "Unsupported protocol version",
}


def error_response(
    code: ErrorCode,
    message: str | None = None,
    status: int | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> Response:
    """The HTTP response for an engine error."""
    if status is None:
        status = 403 if code is ErrorCode.FORBIDDEN else 400
    body = _json.dumps({"code": int(code), "message": message or ERROR_MESSAGES[code]})
    all_headers = [("Content-Type", "application/json")]
    if headers:
        all_headers.extend(headers)
    return Response(status, all_headers, body.encode())
