"""The events of a transport being probed for an upgrade: every packet goes to the probe, none to
the application."""

from __future__ import annotations

from collections.abc import Callable

from ..protocol.engineio import Packet
from .transport import Transport

__all__ = ["Candidate"]


class Candidate:
    """What a candidate transport reports to (a :class:`~aiosio.engine.transport.TransportEvents`):
    its packets to ``on_packet``, anything else (a message, bad data, its close) to ``on_failed``."""

    __slots__ = ("on_failed", "on_packet", "peer")

    #: a candidate's messages never reach a listener
    fast_message: Callable[[str], None] | None = None

    def __init__(
        self,
        on_packet: Callable[[Transport, Packet], None],
        on_failed: Callable[[Transport], None],
        peer: str,
    ) -> None:
        self.on_packet = on_packet
        self.on_failed = on_failed
        #: the client's address for log lines
        self.peer = peer

    def transport_message(self, transport: Transport, data: str | bytes) -> None:
        """A message before the upgrade completed: the probe fails."""
        self.on_failed(transport)

    def transport_packet(self, transport: Transport, packet: Packet) -> None:
        """A packet of the probe."""
        self.on_packet(transport, packet)

    def transport_parse_error(self, transport: Transport, description: str) -> None:
        """Undecodable data: the probe fails."""
        self.on_failed(transport)

    def transport_error(self, transport: Transport, description: str) -> None:
        """The probe fails."""
        self.on_failed(transport)

    def transport_closed(self, transport: Transport, error: str | None) -> None:
        """The probe fails."""
        self.on_failed(transport)

    def transport_drained(self, transport: Transport) -> None:
        """Nothing to do."""

    def poll_started(self, transport: Transport, buffered: bool) -> None:
        """Not for a message transport."""

    def poll_overlap(self, transport: Transport) -> None:
        """Not for a message transport."""

    def poll_aborted(self, transport: Transport) -> None:
        """Not for a message transport."""
