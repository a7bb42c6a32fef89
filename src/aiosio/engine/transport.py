"""What every Engine.IO transport offers the session it carries."""

from __future__ import annotations

from typing import ClassVar, Protocol

from ..protocol.engineio import Packet
from .http import PreparedMessages

__all__ = ["Transport"]


class Transport(Protocol):
    """A way to move packets between the server and one client."""

    name: ClassVar[str]

    def send_packet(self, packet: Packet) -> None:
        """Queue or write one packet."""

    def send_message(self, data: str | bytes, compress: bool = True) -> int:
        """Queue or write one message packet (the hot path); return :attr:`buffered_amount`."""

    def send_prepared(self, prepared: PreparedMessages, compress: bool = True) -> int:
        """Queue or write messages prepared for many sessions; return :attr:`buffered_amount`."""

    @property
    def buffered_amount(self) -> int:
        """Bytes written by the engine that have not reached the kernel yet."""

    def close(self) -> None:
        """End the transport; a polling transport releases its pending request with a close packet."""
