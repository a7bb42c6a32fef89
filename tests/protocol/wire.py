"""A transcript driver for the sans-I/O session: a server session over long-polling with a WebSocket
candidate, with every action written out as what would cross the wire. No event loop, no clock.

Inputs (one string each): ``GET``, ``POST <payload>`` (packets separated by ``\\x1e``), ``ABORT`` (the
held GET dropped), ``OFFER`` / ``OFFER refused`` (a WebSocket for the session), ``WS <packet>`` (on
the candidate, or on the active WebSocket after the upgrade), ``WS closed``, ``SEND <text>`` (the
application sends), ``CLOSE`` (the application closes), ``AT <seconds>`` (time passes).

Outputs: ``GET <- <payload>`` (the held GET answered), ``GET <- 400``, ``WS <- <packet>``,
``WS closed``, ``deliver <text>``, ``emit <event>``, ``closed <reason>[: description]``.
"""

from __future__ import annotations

from aiosio.protocol.engineio import (
    SEPARATOR,
    Packet,
    PacketType,
    decode_packet,
    encode_packet,
    encode_payload_packet,
)
from aiosio.protocol.session_machine import Action, EngineSession
from aiosio.protocol.session_table import Act, Event, Role


def _text(data: str | bytes | None) -> str:
    """The text vectors here use text only."""
    assert not isinstance(data, bytes)
    return data or ""


class Wire:
    """A session, its polling buffer and its candidate, as text."""

    def __init__(
        self, *, pinger: bool = True, polling: bool = True, ping_interval: float = 25.0
    ) -> None:
        self.session = EngineSession(
            Role.SERVER, "sid", ping_interval, 20.0, 10.0, 0.0, pinger=pinger, polling=polling
        )
        self.now = 0.0
        self.buffer: list[Packet] = []
        self.held = False
        self.hold = False
        self.on_websocket = not polling
        self.candidate = False
        self.out: list[str] = []

    def feed(self, line: str) -> list[str]:
        """Apply one input; return what went out."""
        self.out = []
        word, _, rest = line.partition(" ")
        session = self.session
        if word == "GET":
            if self.held:
                self.out.append("GET <- 400")
                self._run(session.handle(Event.SECOND_POLL, self.now))
            else:
                self.held = True
                self._run(session.poll(self.now, bool(self.buffer)))
        elif word == "POST":
            for part in rest.split(SEPARATOR):
                packet = decode_packet(part)
                if packet.type is PacketType.MESSAGE:
                    self._out("deliver " + _text(packet.data))
                else:
                    self._run(session.packet(packet, self.now))
        elif word == "ABORT":
            self.held = self.hold = False
            self._run(session.poll_aborted(self.now))
        elif word == "OFFER":
            actions = session.probe_offered(self.now, allowed=rest != "refused")
            self.candidate = not (actions and actions[0].kind is Act.REJECT_PROBE)
            self._run(actions)
        elif word == "WS" and rest == "closed":
            self.candidate = False
            self._run(session.handle(Event.PROBE_CLOSED, self.now))
        elif word == "WS":
            packet = decode_packet(rest)
            if self.on_websocket:
                self._run(session.packet(packet, self.now))
            else:
                self._run(session.probe_packet(packet, self.now))
        elif word == "SEND":
            self._send(Packet(PacketType.MESSAGE, rest))
        elif word == "CLOSE":
            must_wait = not self.on_websocket and (bool(self.buffer) or not self.held)
            self._run(session.close_requested(self.now, must_wait))
        elif word == "AT":
            self.now = float(rest)
            self._run(session.time_passed(self.now))
        else:
            raise ValueError(line)
        return self.out

    # -- what a real owner does, written out -------------------------------------------------------
    def _out(self, text: str) -> None:
        self.out.append(text)

    def _send(self, packet: Packet) -> None:
        if self.on_websocket:
            self._out("WS <- " + _text(encode_packet(packet)))
        else:
            self.buffer.append(packet)
            if self.held and not self.hold:
                self._answer(self.buffer)

    def _answer(self, packets: list[Packet]) -> None:
        payload = SEPARATOR.join(encode_payload_packet(p) for p in packets)
        self.buffer = []
        self.held = self.hold = False
        self.session.poll_answered()
        self._out(f"GET <- {payload}")

    def _run(self, actions: list[Action]) -> None:
        for action in actions:
            kind = action.kind
            if kind is Act.DELIVER:
                self._out("deliver " + _text(action.data))
            elif kind is Act.SEND_PING:
                self._send(Packet(PacketType.PING))
            elif kind is Act.SEND_PONG:
                self._send(Packet(PacketType.PONG, action.data))
            elif kind is Act.SEND_PROBE_REPLY:
                self._out("WS <- 3probe")
            elif kind in (Act.EMIT_HEARTBEAT, Act.EMIT_UPGRADING, Act.EMIT_UPGRADE):
                self._out("emit " + kind.name.removeprefix("EMIT_").lower())
            elif kind is Act.FLUSH:
                if self.held and self.buffer and not self.hold:
                    self._answer(self.buffer)
            elif kind is Act.RELEASE_POLL:
                if self.held:
                    self._answer(self.buffer or [Packet(PacketType.NOOP)])
            elif kind is Act.HOLD_POLL:
                self.hold = True
            elif kind is Act.ANSWER_CLOSE:
                self._answer([*self.buffer, Packet(PacketType.CLOSE)])
            elif kind is Act.SWITCH:
                if self.held:
                    self.held = self.hold = False
                    self._out("GET <- 400")
                self.on_websocket, self.candidate = True, False
                for packet in self.buffer:
                    self._out("WS <- " + _text(encode_packet(packet)))
                self.buffer = []
            elif kind in (Act.CLOSE_PROBE, Act.REJECT_PROBE):
                self.candidate = False
                self._out("WS closed")
            elif kind is Act.CLOSED:
                assert action.reason is not None
                text = f"closed {action.reason.value}"
                self._out(text + (f": {action.description}" if action.description else ""))
                if self.held:
                    self._answer([*self.buffer, Packet(PacketType.CLOSE)])
                if self.on_websocket or self.candidate:
                    self._out("WS closed")
            else:
                raise AssertionError(f"unexpected action {action}")


def transcript(steps: list[tuple[str, list[str]]], wire: Wire | None = None) -> None:
    """Feed each input and check its output, step by step."""
    wire = wire if wire is not None else Wire()
    for number, (line, expected) in enumerate(steps):
        assert wire.feed(line) == expected, f"step {number}: {line!r}"
