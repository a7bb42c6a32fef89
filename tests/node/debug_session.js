// One client session for comparing debug output: polling, the upgrade to WebSocket, an event with an
// acknowledgement, a disconnect.
//
//   node debug_session.js <url>      the official client against a server
//   node debug_session.js reference  the reference server in this process (with DEBUG on), and the client
"use strict";

const http = require("http");
const { io } = require("socket.io-client");

function session(url) {
  return new Promise((resolve, reject) => {
    const socket = io(url, { reconnection: false });
    socket.on("connect_error", reject);
    socket.on("connect", async () => {
      if (socket.io.engine.transport.name !== "websocket") {
        await new Promise((r) => socket.io.engine.once("upgrade", r));
      }
      const answer = await socket.timeout(5000).emitWithAck("echo", "hi");
      socket.disconnect();
      resolve(answer);
    });
  });
}

async function main() {
  const target = process.argv[2];
  let url = target;
  let server = null;
  if (target === "reference") {
    const { Server } = require("socket.io");
    server = http.createServer();
    const sio = new Server(server);
    sio.on("connection", (socket) => socket.on("echo", (x, cb) => cb(x)));
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${server.address().port}`;
  }
  const answer = await session(url);
  process.stdout.write(JSON.stringify({ answer }) + "\n");
  await new Promise((r) => setTimeout(r, 300));
  process.exit(0);
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ error: String(err) }) + "\n");
  process.exit(1);
});
