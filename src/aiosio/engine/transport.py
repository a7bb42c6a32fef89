"""What every Engine.IO transport offers the session it carries, and what it reports back.

A transport moves bytes; the session (``EngineSocket`` over
:class:`~aiosio.protocol.session_machine.EngineSession`) decides. The session attaches itself to a
transport with :meth:`Transport.attach` (as the reference's ``setTransport`` does) and the transport
reports through that :class:`TransportEvents` object only: it never reaches into the session.

A message transport (WebSocket, WebTransport) implements the sending methods, ``buffered_amount``,
``close`` and reports ``transport_message`` / ``transport_packet`` / ``transport_closed``; the
long-polling operations (``flush``, ``release``, ``hold``, ...) default to nothing here, because a
message transport has no request to answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Protocol

from ..protocol.engineio import Packet
from .http import PreparedMessages, Request, Response

__all__ = ["Transport", "TransportEvents"]


class TransportEvents(Protocol):
    """Where a transport reports what happened on it (every call names the transport)."""

    #: the one message listener, called straight from a transport's fast path (``None``: use
    #: :meth:`transport_message`)
    fast_message: Callable[[str], None] | None

    @property
    def peer(self) -> str:
        """The client's address for log lines."""

    def transport_message(self, transport: Transport, data: str | bytes) -> None:
        """A message packet's data (the fast path of a message transport)."""

    def transport_packet(self, transport: Transport, packet: Packet) -> None:
        """Any decoded packet."""

    def transport_parse_error(self, transport: Transport, description: str) -> None:
        """Data that does not decode."""

    def transport_error(self, transport: Transport, description: str) -> None:
        """A protocol violation that ends the transport."""

    def transport_closed(self, transport: Transport, error: str | None) -> None:
        """The transport closed (``error`` when a violation closed it)."""

    def transport_drained(self, transport: Transport) -> None:
        """What was buffered was handed to the host."""

    def poll_started(self, transport: Transport, buffered: bool) -> None:
        """A GET arrived and is held (``buffered``: packets wait for it)."""

    def poll_overlap(self, transport: Transport) -> None:
        """A second GET came while one is held (it was answered 400)."""

    def poll_aborted(self, transport: Transport) -> None:
        """The client dropped the held GET."""


class Transport:
    """A way to move packets between the server and one client.

    Subclasses implement the sending methods and report to :attr:`events`; the long-polling
    operations below do nothing unless the transport answers requests.
    """

    __slots__ = ("events",)

    name: ClassVar[str]

    def __init__(self, events: TransportEvents) -> None:
        self.events = events

    def attach(self, events: TransportEvents) -> None:
        """Report to ``events`` from now on (the session that carries this transport)."""
        self.events = events

    # -- sending --------------------------------------------------------------------------------
    def send_packet(self, packet: Packet) -> None:
        """Queue or write one packet."""
        raise NotImplementedError

    def send_message(self, data: str | bytes, compress: bool = True) -> int:
        """Queue or write one message packet (the hot path); return :attr:`buffered_amount`."""
        raise NotImplementedError

    def send_prepared(self, prepared: PreparedMessages, compress: bool = True) -> int:
        """Queue or write messages prepared for many sessions; return :attr:`buffered_amount`."""
        raise NotImplementedError

    @property
    def buffered_amount(self) -> int:
        """Bytes written by the engine that have not reached the kernel yet."""
        raise NotImplementedError

    @property
    def writable(self) -> bool:
        """True when a message sent now would leave at once."""
        return self.buffered_amount == 0

    def close(self) -> None:
        """End the transport; a polling transport releases its pending request with a close packet."""
        raise NotImplementedError

    # -- long-polling (nothing to do for a message transport) ----------------------------------
    def on_request(self, request: Request, respond: Callable[[Response], None]) -> bool:
        """Handle an HTTP request of the session; False when this transport takes none."""
        return False

    def must_drain(self) -> bool:
        """True when a close has to wait: packets or the next request are still to come."""
        return False

    def flush(self) -> None:
        """Answer the held request with what is buffered."""

    def release(self) -> None:
        """Answer the held request with what is buffered, or a noop."""

    def hold(self) -> None:
        """Keep the held request (it must not be answered until :meth:`release`)."""

    def answer_close(self) -> None:
        """Answer the held request with a close packet and end the transport."""

    def hand_over(self, send: Callable[[Packet], None]) -> None:
        """The session moves on: refuse a held request, pass what is buffered to ``send``, end."""
        self.close()
