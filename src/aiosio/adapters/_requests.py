"""What an adapter keeps while it waits for the other servers: requests, broadcast acks, socket details.

The classic Redis adapter and the cluster adapter put different messages on the wire, but they wait the
same way: a request holds a future, the responses gathered so far and a timer; a broadcast with acks
holds the caller's two callbacks until its time to live runs out; closing fails what is still waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

from aiosio.adapters._codec import handshake_to_wire
from aiosio.adapters.base import AdapterSocket, SocketDetails
from aiosio.exceptions import AdapterError

__all__ = [
    "AckRequest",
    "PendingRequest",
    "close_requests",
    "request_observers",
    "send_request",
    "socket_from_wire",
    "socket_to_wire",
    "track_ack",
]


#: Called as ``fn(seconds, error_or_None)`` after each request to the other servers (for metrics).
#: Empty, the requests pay nothing for it.
request_observers: list[Callable[[float, BaseException | None], None]] = []


def _notify(seconds: float, error: BaseException | None) -> None:
    for observer in tuple(request_observers):
        observer(seconds, error)


class PendingRequest:
    """A request to the other servers: its future, the responses gathered so far and its timer."""

    __slots__ = ("future", "responses", "timer")

    def __init__(self, future: asyncio.Future[Any], responses: Any) -> None:
        self.future = future
        self.responses = responses
        self.timer: asyncio.TimerHandle | None = None

    def finish(self) -> None:
        """Resolve the request with what it gathered."""
        if self.timer is not None:
            self.timer.cancel()
        if not self.future.done():
            self.future.set_result(self.responses)


class AckRequest:
    """A broadcast with acks: the caller's callbacks, kept until ``timer`` forgets them."""

    __slots__ = ("ack", "client_count", "timer")

    def __init__(
        self,
        client_count: Callable[[int], None],
        ack: Callable[..., None],
        timer: asyncio.TimerHandle,
    ) -> None:
        self.client_count = client_count
        self.ack = ack
        self.timer = timer

    def answer(self, client_count: bool, data: dict[str, Any]) -> None:
        """Pass a response on: a ``clientCount`` when ``client_count``, else an ack (its ``packet``)."""
        if client_count:
            count = data.get("clientCount")
            if isinstance(count, int):
                self.client_count(count)
        elif "packet" in data:
            self.ack(data["packet"])
        else:
            self.ack()


_R = TypeVar("_R", bound=PendingRequest)


def track_ack(
    ack_requests: dict[str, AckRequest],
    request_id: str,
    client_count: Callable[[int], None],
    ack: Callable[..., None],
    ttl: float,
) -> None:
    """Keep a broadcast's callbacks for ``ttl`` seconds: nobody says when the last client answered."""
    timer = asyncio.get_running_loop().call_later(ttl, ack_requests.pop, request_id, None)
    ack_requests[request_id] = AckRequest(client_count, ack, timer)


async def send_request(
    requests: dict[str, _R],
    request_id: str,
    request: _R,
    delay: float,
    timed_out: Callable[[str], None],
    publish: Callable[[], object],
) -> Any:
    """Register ``request``, arm its timer, ``publish`` it and wait for its result.

    When ``publish`` raises, the request is forgotten and the error goes to the caller.
    """
    requests[request_id] = request
    timer = asyncio.get_running_loop().call_later(delay, timed_out, request_id)
    request.timer = timer
    start = time.perf_counter() if request_observers else 0.0
    try:
        publish()
        result = await request.future
    except BaseException as exc:
        requests.pop(request_id, None)
        timer.cancel()
        if request_observers:
            _notify(time.perf_counter() - start, exc)
        raise
    if request_observers:
        _notify(time.perf_counter() - start, None)
    return result


def close_requests(requests: dict[str, _R], ack_requests: dict[str, AckRequest]) -> None:
    """Fail every waiting request with :class:`AdapterError` and forget every broadcast's callbacks."""
    for request in requests.values():
        if request.timer is not None:
            request.timer.cancel()
        if not request.future.done():
            request.future.set_exception(AdapterError("the adapter was closed"))
    requests.clear()
    for ack_request in ack_requests.values():
        ack_request.timer.cancel()
    ack_requests.clear()


def socket_to_wire(socket: AdapterSocket) -> dict[str, Any]:
    """A local socket as the reference sends it in a fetch-sockets response."""
    return {
        "id": socket.id,
        "handshake": handshake_to_wire(socket.handshake),
        "rooms": list(socket.rooms),
        "data": socket.data,
    }


def socket_from_wire(value: Any) -> SocketDetails | None:
    """A remote socket from a fetch-sockets response (``None`` when it is malformed)."""
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        return None
    rooms = value.get("rooms")
    return SocketDetails(
        id=value["id"],
        handshake=value.get("handshake"),
        rooms=[room for room in rooms if isinstance(room, str)] if isinstance(rooms, list) else [],
        data=value.get("data"),
    )
