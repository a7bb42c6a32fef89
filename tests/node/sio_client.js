// Drives the official socket.io-client for the Python tests: JSON commands on stdin, JSON events on
// stdout, one per line. Binary values travel as {"$bin": "<base64>"}.
"use strict";

const { io } = require("socket.io-client");
const { emit: out, toWire, fromWire, onDriverCommands } = require("./lines");

const sockets = new Map();
const ackReplies = new Map(); // `${id}/${event}` -> args to acknowledge with, or null for no answer

function connect(cmd) {
  const opts = { ...(cmd.opts || {}) };
  // {"parser": "msgpack"}: the official socket.io-msgpack-parser instead of the default JSON one.
  if (opts.parser === "msgpack") opts.parser = require("socket.io-msgpack-parser");
  const socket = io(cmd.url + (cmd.nsp && cmd.nsp !== "/" ? cmd.nsp : ""), opts);
  const id = cmd.id;
  sockets.set(id, socket);
  socket.on("connect", () => {
    const transport = socket.io.engine.transport;
    // extensions: what the WebSocket negotiated ("permessage-deflate" or ""), null over polling
    const extensions = transport.ws ? transport.ws.extensions : null;
    out({ ev: "connect", id, sid: socket.id, recovered: socket.recovered, transport: transport.name, extensions });
  });
  socket.on("connect_error", (err) => out({ ev: "connect_error", id, message: err.message, data: err.data === undefined ? null : err.data }));
  socket.on("disconnect", (reason, details) => out({ ev: "disconnect", id, reason }));
  socket.onAny((name, ...args) => {
    let ack = null;
    if (args.length && typeof args[args.length - 1] === "function") ack = args.pop();
    out({ ev: "event", id, name, args: toWire(args), ack: ack !== null });
    if (ack) {
      const key = `${id}/${name}`;
      const reply = ackReplies.has(key) ? ackReplies.get(key) : ["ack:" + name];
      if (reply !== null) ack(...fromWire(reply));
    }
  });
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
      const target = cmd.timeout ? socket.timeout(cmd.timeout) : socket;
      target.emit(cmd.event, ...args, (...res) => {
        if (cmd.timeout) {
          const err = res.shift();
          if (err) return out({ ev: "ack", id: cmd.id, tag: cmd.tag, error: err.message });
        }
        out({ ev: "ack", id: cmd.id, tag: cmd.tag, args: toWire(res) });
      });
    } else {
      socket.emit(cmd.event, ...args);
    }
  },
  disconnect(cmd) {
    sockets.get(cmd.id).disconnect();
  },
  connect_again(cmd) {
    sockets.get(cmd.id).connect();
  },
  close_engine(cmd) {
    // the transport goes away without a Socket.IO disconnect: the server sees "transport close"
    sockets.get(cmd.id).io.engine.close();
  },
  exit() {
    for (const socket of sockets.values()) socket.disconnect();
    process.exit(0);
  },
};

onDriverCommands((cmd) => handlers[cmd.cmd](cmd), { exitOnClose: false });
out({ ev: "ready" });
