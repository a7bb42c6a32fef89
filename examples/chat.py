"""A small chat on the embedded server: rooms, acknowledgements and a binary upload.

Run ``python -m examples.chat --host 127.0.0.1 --port 3000`` (or ``make run``) and open the page.
The browser client is served from ``node_modules/socket.io-client/dist`` when it is installed
(``npm install``); without it the page explains how to connect.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from typing import Any

from aiosio.engine.http import Request, Response
from aiosio.serve import run, wait_for_shutdown_signal
from aiosio.server import Server, Socket
from aiosio.server.client_files import find_client_dist

logger = logging.getLogger("examples.chat")

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>aiosio chat</title>
<style>body{font:15px sans-serif;max-width:40em;margin:2em auto}#log{height:20em;overflow:auto;
border:1px solid #ccc;padding:.5em}input{margin:.3em 0}</style></head><body>
<h1>aiosio chat</h1>
<p>Room <input id="room" value="lobby"> <button id="join">join</button>
   File <input id="file" type="file"></p>
<div id="log"></div>
<form id="form"><input id="text" autocomplete="off" size="50"> <button>send</button></form>
<script src="/socket.io/socket.io.min.js"></script>
<script>
const log = (line) => { const p = document.createElement("div"); p.textContent = line;
  document.getElementById("log").append(p); };
if (typeof io === "undefined") {
  log("The socket.io client bundle is not installed here: run `npm install` and restart.");
} else {
  const socket = io();
  let room = "lobby";
  const join = async () => {
    room = document.getElementById("room").value;
    const members = await socket.emitWithAck("join", room);
    log(`joined ${room} (${members} here)`);
  };
  socket.on("connect", join);
  socket.on("chat", (from, text) => log(`${from}: ${text}`));
  socket.on("file", (from, name, size) => log(`${from} shared ${name} (${size} bytes)`));
  document.getElementById("join").onclick = join;
  document.getElementById("form").onsubmit = async (e) => {
    e.preventDefault();
    const input = document.getElementById("text");
    await socket.emitWithAck("chat", input.value);
    input.value = "";
  };
  document.getElementById("file").onchange = async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    const size = await socket.emitWithAck("upload", file.name, await file.arrayBuffer());
    log(`uploaded ${size} bytes`);
  };
}
</script></body></html>
"""


def make_server() -> Server:
    """The chat server: every socket is in one chat room at a time."""
    io = Server(serve_client=find_client_dist() is not None)

    @io.on("connection")
    def on_connection(socket: Socket) -> None:
        socket.data["room"] = None
        name = socket.id[:6]

        @socket.on("join")
        async def join(room: str) -> int:
            if socket.data["room"]:
                socket.leave(socket.data["room"])
            socket.join(room)
            socket.data["room"] = room
            return len(await io.in_(room).fetch_sockets())

        @socket.on("chat")
        def chat(text: str) -> str:
            if socket.data["room"]:
                io.to(socket.data["room"]).emit("chat", name, str(text)[:500])
            return "ok"

        @socket.on("upload")
        def upload(filename: str, content: bytes) -> int:
            if socket.data["room"]:
                socket.to(socket.data["room"]).emit("file", name, filename, len(content))
            return len(content)

        socket.on("disconnect", lambda reason: logger.info("%s left: %s", name, reason))

    return io


def page(request: Request, respond: Callable[[Response], None]) -> None:
    """Everything outside /socket.io/: the page at ``/``, 404 elsewhere."""
    if request.path == "/":
        headers = [("Content-Type", "text/html; charset=utf-8")]
        respond(Response(200, headers, PAGE.encode()))
    else:
        respond(Response(404, [("Content-Type", "text/plain")], b"not found"))


async def main(host: str, port: int) -> None:
    io = make_server()
    bound = await io.listen(port, host, fallback=page)
    print(f"chat on http://{host}:{bound}/ (Ctrl+C to stop)", flush=True)
    received = await wait_for_shutdown_signal()
    print(f"{received.name}: shutting down", flush=True)
    await io.close()


def cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    args: Any = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    run(main(args.host, args.port))


if __name__ == "__main__":
    cli()
