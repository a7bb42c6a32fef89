// Drives socket.io-client 2.x (Engine.IO v3, Socket.IO protocol v4) for the Python tests, with the
// commands and events of sio_client.js. Binary values travel as {"$bin": "<base64>"}.
"use strict";

const io = require("socket.io-client-v2");
const { emit: out, toWire, fromWire, onDriverCommands } = require("./lines");

const sockets = new Map();
const ackReplies = new Map(); // `${id}/${event}` -> args to acknowledge with, or null for no answer

function connect(cmd) {
  const opts = Object.assign({ forceNew: false }, cmd.opts || {});
  const socket = io(cmd.url + (cmd.nsp && cmd.nsp !== "/" ? cmd.nsp : ""), opts);
  const id = cmd.id;
  sockets.set(id, socket);
  socket.on("connect", () => {
    out({ ev: "connect", id, sid: socket.id, transport: socket.io.engine.transport.name });
  });
  // 2.x reports a refusal by the server's middleware as an "error" event carrying its data
  socket.on("error", (data) => {
    const message = typeof data === "string" ? data : data && data.message;
    out({ ev: "connect_error", id, message: message || null, data: data === undefined ? null : data });
  });
  socket.on("connect_error", (err) => out({ ev: "connect_error", id, message: String(err && err.message), data: null }));
  socket.on("disconnect", (reason) => out({ ev: "disconnect", id, reason }));
  // 2.x has no onAny: catch every event at the packet level
  socket.onevent = function (packet) {
    const args = (packet.data || []).slice();
    const name = args.shift();
    out({ ev: "event", id, name, args: toWire(args), ack: packet.id != null });
    if (packet.id != null) {
      const key = `${id}/${name}`;
      const reply = ackReplies.has(key) ? ackReplies.get(key) : ["ack:" + name];
      if (reply !== null) this.ack(packet.id)(...fromWire(reply));
    }
  };
}

const handlers = {
  connect,
  ack_reply(cmd) {
    ackReplies.set(`${cmd.id}/${cmd.event}`, cmd.args === undefined ? null : cmd.args);
  },
  emit(cmd) {
    const socket = sockets.get(cmd.id);
    const args = fromWire(cmd.args || []);
    if (cmd.ack) {
      socket.emit(cmd.event, ...args, (...res) => out({ ev: "ack", id: cmd.id, tag: cmd.tag, args: toWire(res) }));
    } else {
      socket.emit(cmd.event, ...args);
    }
  },
  disconnect(cmd) {
    sockets.get(cmd.id).disconnect();
  },
  state(cmd) {
    const socket = sockets.get(cmd.id);
    out({ ev: "state", id: cmd.id, transport: socket.io.engine.transport.name, connected: socket.connected });
  },
  exit() {
    for (const socket of sockets.values()) socket.disconnect();
    process.exit(0);
  },
};

onDriverCommands((cmd) => handlers[cmd.cmd](cmd), { exitOnClose: false });
out({ ev: "ready" });
