"""JSONP polling (``j`` in the query), for v4 and v3 sessions, as the reference serves it."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import EngineStarter

FOOT = ");"


def unwrap(text: str, index: str) -> str:
    head = f"___eio[{index}]("
    assert text.startswith(head)
    assert text.endswith(FOOT)
    payload: str = json.loads(text[len(head) : -len(FOOT)])
    return payload


def escape(payload: str) -> str:
    """What the client's JSONP form does to a payload before posting it."""
    return payload.replace("\\n", "\\\\n").replace("\n", "\\n")


@pytest.mark.parametrize("eio", ["4", "3"])
async def test_jsonp_round_trip(engine: EngineStarter, eio: str) -> None:
    eut = await engine(allow_eio3=True)
    base = f"{eut.base_url}/engine.io/?EIO={eio}&transport=polling&j=7&b64=1"
    async with httpx.AsyncClient() as http:
        handshake = await http.get(base)
        assert handshake.status_code == 200
        opened = unwrap(handshake.text, "7")
        if eio == "3":
            assert opened.startswith(f"{len(opened) - opened.index(':') - 1}:0{{")
            opened = opened[opened.index(":") + 1 :]
        sid = json.loads(opened[1:])["sid"]
        session = f"{base}&sid={sid}"

        text = 'line1\nline2 \\n "quoted" \u2028 ☃'
        payload = "4" + text + "\x1e4second" if eio == "4" else f"{len(text) + 1}:4{text}7:4second"
        posted = await http.post(
            session,
            data={"d": escape(payload)},
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert posted.status_code == 200
        assert posted.text == "ok"
        assert (await eut.expect_event("message", sid=sid))["data"] == text
        assert (await eut.expect_event("message", sid=sid))["data"] == "second"

        await eut.send(sid, text)
        await eut.send(sid, b"\x00\x01\xff")
        received = ""
        expected = "4" + text + "\x1ebAAH/" if eio == "4" else f"{len(text) + 1}:4{text}6:b4AAH/"
        while len(received) < len(expected):  # the reference may answer between the two sends
            polled = await http.get(session)
            assert "\u2028" not in polled.text  # escaped: the body must be valid JavaScript
            if received and eio == "4":
                received += "\x1e"
            received += unwrap(polled.text, "7")
        assert received == expected
