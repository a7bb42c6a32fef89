"use strict";
// The command loop shared by the official emitters' drivers (redis_emitter.js, postgres_emitter.js):
// `drive(connect)` awaits `connect()` for `{ root, of }` (the "/" emitter and a namespace's emitter by
// name), answers each JSON command on stdin with {"ev": "done"}, and reports start-up errors.
const { emit: out, fromWire, driverError, onDriverCommands } = require("./lines");

async function run(connect) {
  const { root, of } = await connect();

  function target(cmd) {
    let op = cmd.nsp && cmd.nsp !== "/" ? of(cmd.nsp) : root;
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

function drive(connect) {
  run(connect).catch((err) => {
    driverError(err);
    process.exit(1);
  });
}

module.exports = { drive };
