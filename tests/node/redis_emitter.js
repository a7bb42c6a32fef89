// The official @socket.io/redis-emitter, driven by the Python tests.
// Usage: node redis_emitter.js <redis url> <key>; JSON commands on stdin, {"ev": ...} lines on stdout.
"use strict";

const { createClient } = require("redis");
const { Emitter } = require("@socket.io/redis-emitter");
const { emit: out, fromWire, driverError, onDriverCommands } = require("./lines");

const [redisUrl, key] = process.argv.slice(2);

async function main() {
  const client = createClient({ url: redisUrl });
  client.on("error", () => {});
  await client.connect();
  const root = new Emitter(client, { key });

  function target(cmd) {
    let op = cmd.nsp && cmd.nsp !== "/" ? root.of(cmd.nsp) : root;
    if (cmd.rooms && cmd.rooms.length) op = op.to(cmd.rooms);
    if (cmd.except && cmd.except.length) op = op.except(cmd.except);
    if (cmd.volatile) op = op.volatile;
    return op;
  }

  const handlers = {
    emit: (cmd) => target(cmd).emit(cmd.event, ...fromWire(cmd.args || [])),
    sockets_join: (cmd) => target(cmd).socketsJoin(cmd.room),
    sockets_leave: (cmd) => target(cmd).socketsLeave(cmd.room),
    disconnect_sockets: (cmd) => target(cmd).disconnectSockets(!!cmd.close),
    server_side_emit: (cmd) => root.serverSideEmit(cmd.event, ...fromWire(cmd.args || [])),
    exit: () => process.exit(0),
  };

  onDriverCommands((cmd) => {
    handlers[cmd.cmd](cmd);
    out({ ev: "done", tag: cmd.tag });
  });
  out({ ev: "ready" });
}

main().catch((err) => {
  driverError(err);
  process.exit(1);
});
