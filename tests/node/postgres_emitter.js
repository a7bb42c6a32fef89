// The official @socket.io/postgres-emitter, driven by the Python tests.
// Usage: node postgres_emitter.js <postgres url> <channel prefix>; JSON commands on stdin, {"ev": ...}
// lines on stdout.
"use strict";

const pg = require("pg");
const { Emitter } = require("@socket.io/postgres-emitter");
const { emit: out, fromWire, driverError, onDriverCommands } = require("./lines");

const [url, channelPrefix] = process.argv.slice(2);

async function main() {
  const pool = new pg.Pool({ connectionString: url });
  pool.on("error", () => {});
  const root = new Emitter(pool, "/", { channelPrefix });

  function target(cmd) {
    // the emitter's of() forgets the options: build the namespace's emitter directly
    let op = cmd.nsp && cmd.nsp !== "/" ? new Emitter(pool, cmd.nsp, { channelPrefix }) : root;
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
