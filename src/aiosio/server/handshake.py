"""The handshake details of a socket (``socket.handshake``)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiosio.engine.http import Request

__all__ = ["Handshake"]


def _js_date(now: float) -> str:
    # the format of JavaScript's ``new Date() + ""`` in UTC
    return time.strftime(
        "%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)", time.gmtime(now)
    )


@dataclass(slots=True)
class Handshake:
    """What the client sent when it opened the connection and joined the namespace."""

    #: request headers (names in lower case)
    headers: dict[str, str] = field(default_factory=dict)
    #: creation date as a string
    time: str = ""
    #: the client's IP address
    address: str = ""
    #: whether the request came from another origin (it carried an ``Origin`` header)
    xdomain: bool = False
    #: whether the connection is encrypted
    secure: bool = False
    #: creation date in milliseconds since the epoch
    issued: int = 0
    #: the request URL (path and query string)
    url: str = ""
    #: the query string as a dict
    query: dict[str, str] = field(default_factory=dict)
    #: the auth payload of the CONNECT packet
    auth: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_request(cls, request: Request | None, auth: dict[str, Any]) -> Handshake:
        """Build the handshake of a socket from the engine's handshake request."""
        now = time.time()
        if request is None:
            return cls(time=_js_date(now), issued=int(now * 1000), secure=True, auth=auth)
        client = request.client
        return cls(
            headers=request.headers,
            time=_js_date(now),
            address=client[0] if client else "",
            xdomain="origin" in request.headers,
            secure=request.scheme in ("https", "wss"),
            issued=int(now * 1000),
            url=request.url,
            query=request.query,
            auth=auth,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict with the reference's field names (for cluster adapters)."""
        return asdict(self)
