"""The HTTP long-polling transport: GET carries server packets out, POST carries client packets in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar, Protocol

from ..exceptions import EngineProtocolError
from ..protocol.engineio import (
    SEPARATOR,
    Packet,
    PacketType,
    decode_packet,
    encode_payload_packet,
)
from .errors import ErrorCode
from .http import PreparedMessages, Request, Response
from .transport import Transport, TransportEvents

__all__ = ["HttpAnswers", "PollingTransport", "as_packets"]

logger = logging.getLogger("aiosio.engine")

_TEXT_PLAIN = "text/plain; charset=UTF-8"
_CLOSE = Packet(PacketType.CLOSE)
_NOOP = Packet(PacketType.NOOP)


def as_packets(items: Sequence[Packet | str]) -> list[Packet]:
    """Buffered items as packets: a message queued in its payload form (``"4" + text``) as its packet."""
    return [Packet(PacketType.MESSAGE, i[1:]) if type(i) is str else i for i in items]  # type: ignore[misc]


class HttpAnswers(Protocol):
    """How a polling transport answers its requests: the server's HTTP responses (headers, CORS,
    compression) and refusals."""

    def respond(
        self,
        request: Request,
        respond: Callable[[Response], None],
        status: int,
        body: bytes,
        content_type: str | None,
        *,
        compress: bool = False,
    ) -> None:
        """Answer ``request`` (with the headers every polling response carries)."""

    def refuse(self, request: Request, code: ErrorCode, context: dict[str, Any]) -> Response:
        """The error response refusing ``request``."""


class PollingTransport(Transport):
    """Buffers packets until the client's next GET and decodes the payloads it POSTs.

    At most one GET is held at a time; a second concurrent GET is answered 400 and reported.
    """

    __slots__ = (
        "_buffer",
        "_buffered_bytes",
        "_closed",
        "_compress",
        "_flush_scheduled",
        "_held",
        "_pending",
        "_pending_request",
        "http",
        "loop",
    )

    name: ClassVar[str] = "polling"
    #: whether a POST may carry an ``application/octet-stream`` payload (protocol v3 only)
    binary_posts: ClassVar[bool] = False

    def __init__(self, events: TransportEvents, http: HttpAnswers) -> None:
        super().__init__(events)
        self.http = http
        self.loop = asyncio.get_running_loop()
        # Packets, or messages already in their payload form ("4" + text): a broadcast's text is
        # queued as the very string every other session queues, never copied per session.
        self._buffer: list[Packet | str] = []
        self._buffered_bytes = 0
        self._pending: Callable[[Response], None] | None = None
        self._pending_request: Request | None = None
        self._flush_scheduled = False
        self._closed = False
        #: whether a packet waiting for the next GET may be compressed (``http_compression``)
        self._compress = False
        #: a GET held mid-upgrade: nothing answers it until :meth:`release` (or the upgrade)
        self._held = False

    @property
    def buffered_amount(self) -> int:
        """Approximate bytes waiting for the next GET."""
        return self._buffered_bytes

    @property
    def writable(self) -> bool:
        """True while a GET is held open."""
        return self._pending is not None

    def must_drain(self) -> bool:
        """True while packets wait, or no GET is there to take the close packet."""
        return bool(self._buffered_bytes) or self._pending is None

    # -- sending --------------------------------------------------------------------------------
    def send_packet(self, packet: Packet, compress: bool = True) -> None:
        """Queue a packet for the next (or the pending) GET.

        A payload is compressed (``http_compression``) when one of its packets allows it.
        """
        if self._closed:
            return
        if compress:
            self._compress = True
        self._buffer.append(packet)
        data = packet.data
        self._buffered_bytes += len(data) + 1 if data is not None else 1
        if self._pending is not None and not self._flush_scheduled and not self._held:
            # Several sends in one loop iteration go out in one payload (a GET held mid-upgrade
            # waits: the packets may belong on the WebSocket).
            self._flush_scheduled = True
            self.loop.call_soon(self.flush)

    def send_message(self, data: str | bytes, compress: bool = True) -> int:
        """Queue one message packet; return the bytes waiting for the next GET."""
        self.send_packet(Packet(PacketType.MESSAGE, data), compress)
        return self._buffered_bytes

    def send_prepared(self, prepared: PreparedMessages, compress: bool = True) -> int:
        """Queue messages prepared for many sessions (their WebSocket form, see ``prepare``)."""
        if self._closed:
            return self._buffered_bytes
        buffer = self._buffer
        size = 0
        for message in prepared.messages:
            if type(message) is str:
                buffer.append(message)
                size += len(message)
            else:
                buffer.append(Packet(PacketType.MESSAGE, message))
                size += len(message) * 4 // 3 + 5
        self._buffered_bytes += size
        if compress:
            self._compress = True
        if self._pending is not None and not self._flush_scheduled and not self._held:
            self._flush_scheduled = True
            self.loop.call_soon(self.flush)
        return self._buffered_bytes

    def flush(self) -> None:
        """Answer the held GET (if any) with what is buffered now."""
        self._flush_scheduled = False
        if self._pending is not None and self._buffer and not self._held:
            self._write(self._take_buffer())

    def _take_buffer(self) -> list[Packet | str]:
        packets = self._buffer
        self._buffer = []
        self._buffered_bytes = 0
        return packets

    def _take_pending(self) -> tuple[Callable[[Response], None], Request]:
        respond, request = self._pending, self._pending_request
        self._pending = self._pending_request = None
        self._held = False
        assert respond is not None
        assert request is not None
        request.on_abort = None
        return respond, request

    def _write(self, packets: list[Packet | str]) -> None:
        respond, request = self._take_pending()
        body, content_type = self.encode(packets)
        compress, self._compress = self._compress, False
        self.http.respond(request, respond, 200, body, content_type, compress=compress)
        self.events.transport_drained(self)

    def encode(self, packets: Sequence[Packet | str]) -> tuple[bytes, str]:
        """A response body for ``packets`` (packets, or messages in their payload form) and its
        content type."""
        body = SEPARATOR.join([p if type(p) is str else encode_payload_packet(p) for p in packets])  # type: ignore[arg-type]
        return body.encode(), _TEXT_PLAIN

    def decode(self, body: bytes, binary: bool) -> Iterator[Packet]:
        """The packets of a POSTed body, one by one; a bad one raises ``EngineProtocolError``."""
        del binary  # protocol v4 posts text only (checked before)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EngineProtocolError("payload is not valid UTF-8") from exc
        for part in text.split(SEPARATOR):
            yield decode_packet(part)

    # -- what the session asks ------------------------------------------------------------------
    def hold(self) -> None:
        """Keep the GET (mid-upgrade): nothing answers it until :meth:`release` or the upgrade."""
        if self._pending is not None:
            self._held = True

    def release(self) -> None:
        """Answer a held GET with what is buffered, or a noop (the upgrade asks the client to stop
        polling)."""
        if self._pending is not None:
            self._held = False
            self._write(self._take_buffer() or [_NOOP])

    def answer_close(self) -> None:
        """Answer the GET with a close packet and end."""
        self.close()

    def hand_over(self, send: Callable[[Packet], None]) -> None:
        """The session moved to another transport: a GET held mid-upgrade gets 400 (the client sent
        it after its ``5``, it gets what any later polling request gets), what is buffered goes to
        ``send``, and the transport ends."""
        if self._pending is not None:
            respond, request = self._take_pending()
            respond(
                self.http.refuse(request, ErrorCode.BAD_REQUEST, {"name": "TRANSPORT_MISMATCH"})
            )
        for packet in as_packets(self._take_buffer()):
            send(packet)
        self.close()

    def close(self) -> None:
        """Release the held GET with the remaining packets and a close packet."""
        if self._closed:
            return
        self._closed = True
        if self._pending is not None:
            packets = self._take_buffer()
            packets.append(_CLOSE)
            self._write(packets)
        self._buffer = []
        self._buffered_bytes = 0

    # -- requests -------------------------------------------------------------------------------
    def on_request(self, request: Request, respond: Callable[[Response], None]) -> bool:
        """Route a polling request of this session."""
        if request.method == "GET":
            self._on_get(request, respond)
        elif request.method == "POST":
            self._on_post(request, respond)
        else:
            self.http.respond(request, respond, 500, b"", None)
        return True

    def _on_get(self, request: Request, respond: Callable[[Response], None]) -> None:
        if self._pending is not None:
            logger.info("session of %s: overlapping GET requests", self.events.peer)
            self.http.respond(request, respond, 400, b"", None)
            self.events.poll_overlap(self)
            return
        self._pending = respond
        self._pending_request = request
        request.on_abort = self._on_abort
        self.events.poll_started(self, bool(self._buffer))

    def _on_abort(self) -> None:
        self._pending = self._pending_request = None
        self._held = False
        self.events.poll_aborted(self)

    def _on_post(self, request: Request, respond: Callable[[Response], None]) -> None:
        events = self.events
        http = self.http
        if request.body_too_large:
            # As the reference: 413, and the session stays (the client closes it).
            logger.info("session of %s: POST body over max_http_buffer_size", events.peer)
            http.respond(request, respond, 413, b"", None)
            return
        binary = request.headers.get("content-type") == "application/octet-stream"
        if binary and not self.binary_posts:
            http.respond(request, respond, 400, b"", None)
            events.transport_error(self, "invalid content")
            return
        # Packets before a bad one are delivered, as the reference does, then the session closes.
        try:
            for packet in self.decode(request.body, binary):
                if self._closed:
                    break
                events.transport_packet(self, packet)
        except EngineProtocolError as exc:
            logger.info("session of %s: bad polling payload: %s", events.peer, exc)
            events.transport_parse_error(self, str(exc))
        if self._flush_scheduled:
            # What the handlers of these packets sent leaves now, in one payload, ahead of the
            # POST's answer (as the reference orders them), not one loop iteration later.
            self.flush()
        http.respond(request, respond, 200, b"ok", "text/html")
