// The reference Socket.IO server instrumented with the official @socket.io/admin-ui, for the admin tests.
//
//   node admin_server.js '<json options>'
//
// Options: auth (false or {type, username, password}), mode, readonly, serverId. Prints
// {"event":"listening","port":N} once it listens. The main namespace echoes "hello" back as "hello".
"use strict";

const http = require("http");
const { Server } = require("socket.io");
const { instrument } = require("@socket.io/admin-ui");

const options = JSON.parse(process.argv[2] || "{}");
const httpServer = http.createServer();
const io = new Server(httpServer, { cors: { origin: true, credentials: true } });

io.on("connection", (socket) => {
  socket.on("hello", (...args) => socket.emit("hello", ...args));
});
io.of("/chat").on("connection", () => {});

instrument(io, {
  auth: options.auth,
  mode: options.mode || "development",
  readonly: Boolean(options.readonly),
  serverId: options.serverId,
});

httpServer.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ event: "listening", port: httpServer.address().port }) + "\n");
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
