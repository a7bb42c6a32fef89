// The official @socket.io/redis-emitter, driven by the Python tests.
// Usage: node redis_emitter.js <redis url> <key>; JSON commands on stdin, {"ev": ...} lines on stdout.
"use strict";

const readline = require("readline");
const { createClient } = require("redis");
const { Emitter } = require("@socket.io/redis-emitter");

const [redisUrl, key] = process.argv.slice(2);

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function fromWire(value) {
  if (Array.isArray(value)) return value.map(fromWire);
  if (value && typeof value === "object") {
    if (typeof value.$bin === "string" && Object.keys(value).length === 1) {
      return Buffer.from(value.$bin, "base64");
    }
    const res = {};
    for (const [k, v] of Object.entries(value)) res[k] = fromWire(v);
    return res;
  }
  return value;
}

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

  readline.createInterface({ input: process.stdin }).on("line", (line) => {
    if (!line.trim()) return;
    const cmd = JSON.parse(line);
    try {
      handlers[cmd.cmd](cmd);
      out({ ev: "done", tag: cmd.tag });
    } catch (err) {
      out({ ev: "driver_error", message: String((err && err.stack) || err) });
    }
  }).on("close", () => process.exit(0));
  out({ ev: "ready" });
}

main().catch((err) => {
  out({ ev: "driver_error", message: String((err && err.stack) || err) });
  process.exit(1);
});
