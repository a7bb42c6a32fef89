"""The origin policy over real sockets, on both hosts: the Origin header a browser sends, on polling
handshakes and requests, WebSocket handshakes and upgrades."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from aiosio.engine.server import EngineServer
from tests.support.hosts import RunningHost, start_host

PAGE = "https://app.example"
EVIL = "https://evil.example"
FORBIDDEN = {"code": 4, "message": "Forbidden"}

Start = Callable[..., Any]


def _o(origin: str | None) -> Origin | None:
    return None if origin is None else Origin(origin)


@pytest.fixture
async def start(host_kind: str) -> AsyncIterator[Start]:
    running: list[RunningHost] = []

    async def start_engine(**options: Any) -> tuple[EngineServer, RunningHost]:
        eng = EngineServer(**options)
        host = await start_host(host_kind, eng)
        running.append(host)
        return eng, host

    yield start_engine
    for host in reversed(running):
        await host.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


def polling(host: RunningHost, sid: str | None = None) -> str:
    url = f"http://127.0.0.1:{host.port}/engine.io/?EIO=4&transport=polling"
    return url + (f"&sid={sid}" if sid else "")


def websocket(host: RunningHost, sid: str | None = None) -> str:
    url = f"ws://127.0.0.1:{host.port}/engine.io/?EIO=4&transport=websocket"
    return url + (f"&sid={sid}" if sid else "")


def own(host: RunningHost) -> str:
    return f"http://127.0.0.1:{host.port}"


async def open_polling(http: httpx.AsyncClient, host: RunningHost, origin: str | None) -> str:
    headers = {"Origin": origin} if origin else {}
    response = await http.get(polling(host), headers=headers)
    assert response.status_code == 200, response.text
    sid: str = json.loads(response.text[1:])["sid"]
    return sid


async def ws_refusal(url: str, origin: str) -> tuple[int, Any]:
    with pytest.raises(InvalidStatus) as info:
        async with connect(url, origin=_o(origin), open_timeout=5):
            pass
    response = info.value.response
    return response.status_code, json.loads(response.body or b"null")


async def ws_opens(url: str, origin: str | None) -> str:
    async with connect(url, origin=_o(origin), open_timeout=5) as ws:
        opened = await ws.recv()
    assert isinstance(opened, str)
    return opened


def forbidden(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == FORBIDDEN


# -- no cors option: same origin only ------------------------------------------------------------


async def test_default_is_same_origin(
    start: Start, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "aiosio.engine")
    eng, host = await start()
    await open_polling(http, host, None)  # no Origin: not a browser, accepted
    await open_polling(http, host, own(host))  # the page the server itself serves
    assert (await ws_opens(websocket(host), own(host)))[0] == "0"
    assert (await ws_opens(websocket(host), None))[0] == "0"
    count = eng.clients_count
    forbidden(await http.get(polling(host), headers={"Origin": EVIL}))
    assert await ws_refusal(websocket(host), EVIL) == (403, FORBIDDEN)
    # Same host, another scheme or port, is another origin.
    forbidden(await http.get(polling(host), headers={"Origin": f"https://127.0.0.1:{host.port}"}))
    forbidden(await http.get(polling(host), headers={"Origin": "http://127.0.0.1:1"}))
    forbidden(await http.get(polling(host), headers={"Origin": "null"}))
    assert eng.clients_count == count  # no session for any refused handshake
    lines = [r for r in caplog.records if "refused" in r.getMessage()]
    assert lines
    assert all("cors" in r.getMessage() for r in lines)
    assert lines[0].levelno == logging.WARNING


async def test_default_origin_with_default_ports(start: Start, http: httpx.AsyncClient) -> None:
    _, host = await start()
    # What a browser sends for a page at http://app.example/ served behind port 80.
    response = await http.get(
        polling(host), headers={"Origin": "http://App.Example", "Host": "app.example:80"}
    )
    assert response.status_code == 200


async def test_forwarded_headers_count_only_from_trusted_proxies(
    start: Start, http: httpx.AsyncClient
) -> None:
    forwarded = {"Origin": PAGE, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example"}
    _, untrusted = await start()
    forbidden(await http.get(polling(untrusted), headers=forwarded))
    _, other = await start(trusted_proxies=["10.0.0.0/8"])
    forbidden(await http.get(polling(other), headers=forwarded))
    _, trusted = await start(trusted_proxies=["127.0.0.1"])
    assert (await http.get(polling(trusted), headers=forwarded)).status_code == 200
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example, proxy.internal"}
    assert await ws_refusal(websocket(trusted), PAGE) == (403, FORBIDDEN)  # no X-Forwarded-*
    async with connect(
        websocket(trusted), origin=_o(PAGE), additional_headers=headers, open_timeout=5
    ) as ws:
        assert str(await ws.recv())[0] == "0"


# -- cors names origins ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cors",
    [PAGE, [PAGE, "https://other.example"], lambda origin: origin == PAGE, {"origin": [PAGE]}],
    ids=["string", "list", "callable", "dict"],
)
async def test_cors_origins_are_enforced_everywhere(
    start: Start, http: httpx.AsyncClient, cors: Any
) -> None:
    eng, host = await start(cors=cors)
    sid = await open_polling(http, host, PAGE)
    assert (await ws_opens(websocket(host), PAGE))[0] == "0"
    # Handshakes from another origin.
    forbidden(await http.get(polling(host), headers={"Origin": EVIL}))
    assert await ws_refusal(websocket(host), EVIL) == (403, FORBIDDEN)
    # Requests of an existing session from another origin (a page that learned the sid).
    forbidden(await http.get(polling(host, sid), headers={"Origin": EVIL}))
    forbidden(await http.post(polling(host, sid), content="4hi", headers={"Origin": EVIL}))
    assert await ws_refusal(websocket(host, sid), EVIL) == (403, FORBIDDEN)
    assert eng.clients[sid].transport == "polling"  # untouched by the refused upgrade
    # The session goes on for its own page, including the upgrade.
    post = await http.post(polling(host, sid), content="4hi", headers={"Origin": PAGE})
    assert post.text == "ok"
    async with connect(websocket(host, sid), origin=_o(PAGE), open_timeout=5) as ws:
        await ws.send("2probe")
        assert await ws.recv() == "3probe"


async def test_cors_star_opens_every_origin(start: Start, http: httpx.AsyncClient) -> None:
    _, host = await start(cors="*")
    sid = await open_polling(http, host, EVIL)
    post = await http.post(polling(host, sid), content="4hi", headers={"Origin": EVIL})
    assert post.text == "ok"
    assert (await ws_opens(websocket(host), EVIL))[0] == "0"
    async with connect(websocket(host, sid), origin=_o(EVIL), open_timeout=5) as ws:
        await ws.send("2probe")
        assert await ws.recv() == "3probe"


async def test_refusal_logs_name_the_option_and_no_session_id(
    start: Start, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "aiosio")
    _, host = await start(cors=[PAGE])
    sid = await open_polling(http, host, PAGE)
    forbidden(await http.get(polling(host, sid), headers={"Origin": EVIL}))
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert any("cors" in line and EVIL in line for line in loud)
    assert not any(sid in line for line in loud)
