"""The ``compress`` flag of emits decides whether a polling payload may be HTTP-compressed."""

from __future__ import annotations

import asyncio
import gzip
import json

import httpx

from aiosio.server import Socket

from .conftest import Serve

BIG = "compressible " * 400


async def test_compress_flag_on_emits(serve: Serve) -> None:
    io, url = await serve()
    connected: asyncio.Queue[Socket] = asyncio.Queue()
    io.on("connection", connected.put_nowait)
    base = f"{url}/socket.io/?EIO=4&transport=polling"
    async with httpx.AsyncClient() as http:
        handshake = await http.get(base)
        sid = json.loads(handshake.text[1:])["sid"]
        session = f"{base}&sid={sid}"
        assert (await http.post(session, content=b"40")).text == "ok"
        await http.get(session)  # the CONNECT answer
        socket = await asyncio.wait_for(connected.get(), 5)

        async def poll() -> tuple[str | None, bytes]:
            async with http.stream("GET", session, headers={"Accept-Encoding": "gzip"}) as r:
                raw = b"".join([chunk async for chunk in r.aiter_raw()])
                return r.headers.get("content-encoding"), raw

        socket.emit("big", BIG)
        encoding, raw = await poll()
        assert encoding == "gzip"
        assert json.loads(gzip.decompress(raw).decode()[2:]) == ["big", BIG]

        socket.compress(False).emit("big", BIG)
        encoding, raw = await poll()
        assert encoding is None
        assert json.loads(raw.decode()[2:]) == ["big", BIG]

        io.compress(False).emit("all", BIG)
        encoding, raw = await poll()
        assert encoding is None
        assert json.loads(raw.decode()[2:]) == ["all", BIG]
