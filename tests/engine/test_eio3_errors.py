"""Bad input from Engine.IO v3 sessions closes that session with the reference's reason."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import EngineStarter


async def open_v3(http: httpx.AsyncClient, base: str) -> str:
    response = await http.get(f"{base}/engine.io/?EIO=3&transport=polling")
    assert response.status_code == 200
    body = response.text
    sid: str = json.loads(body[body.index(":") + 2 :])["sid"]
    return sid


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"5:4hi", "text/plain;charset=UTF-8", "parse error"),  # shorter than its prefix
        (b"x:4hi", "text/plain;charset=UTF-8", "parse error"),
        (b"1:3", "text/plain;charset=UTF-8", "transport error"),  # a pong: wrong direction
        (bytes.fromhex("02"), "application/octet-stream", "parse error"),  # neither 0 nor 1
    ],
)
async def test_bad_input_closes_the_session(
    engine: EngineStarter, body: bytes, content_type: str, reason: str
) -> None:
    eut = await engine(allow_eio3=True)
    async with httpx.AsyncClient() as http:
        sid = await open_v3(http, eut.base_url)
        url = f"{eut.base_url}/engine.io/?EIO=3&transport=polling&sid={sid}"
        await http.post(url, content=body, headers={"Content-Type": content_type})
    closed = await eut.expect_event("close", sid=sid)
    assert closed["reason"] == reason


async def test_v4_sessions_still_refuse_binary_posts(engine: EngineStarter) -> None:
    eut = await engine(allow_eio3=True)
    async with httpx.AsyncClient() as http:
        handshake = await http.get(f"{eut.base_url}/engine.io/?EIO=4&transport=polling")
        sid = json.loads(handshake.text[1:])["sid"]
        url = f"{eut.base_url}/engine.io/?EIO=4&transport=polling&sid={sid}"
        posted = await http.post(
            url, content=b"\x01\x02", headers={"Content-Type": "application/octet-stream"}
        )
    assert posted.status_code == 400
    closed = await eut.expect_event("close", sid=sid)
    assert closed["reason"] == "transport error"


async def test_requests_naming_another_protocol_are_refused(engine: EngineStarter) -> None:
    eut = await engine(allow_eio3=True)
    async with httpx.AsyncClient() as http:
        sid = await open_v3(http, eut.base_url)
        polled = await http.get(f"{eut.base_url}/engine.io/?EIO=4&transport=polling&sid={sid}")
        assert polled.status_code == 400
        assert polled.json() == {"code": 3, "message": "Bad request"}
        await eut.send(sid, "hi")
        polled = await http.get(f"{eut.base_url}/engine.io/?EIO=3&transport=polling&sid={sid}")
        assert polled.text == "3:4hi"
