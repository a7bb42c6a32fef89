"use strict";
// JSON-lines plumbing shared by the peer scripts: events out on stdout, commands in on stdin.
// The Engine.IO peers speak {event: ...} lines and binary as {b64}; the Socket.IO peers {ev: ...} lines
// and binary anywhere inside a value as {"$bin": "<base64>"}.
const readline = require("readline");

function emit(event) {
  process.stdout.write(JSON.stringify(event) + "\n");
}

function encodeData(data) {
  if (typeof data === "string") return data;
  return { b64: Buffer.from(data).toString("base64") };
}

function decodeData(value) {
  if (typeof value === "string") return value;
  return Buffer.from(value.b64, "base64");
}

function kindOf(data) {
  if (typeof data === "string") return "string";
  if (Buffer.isBuffer(data)) return "buffer";
  if (data instanceof ArrayBuffer) return "arraybuffer";
  return Object.prototype.toString.call(data);
}

// Binary values anywhere inside `value` as {"$bin": "<base64>"}.
function toWire(value) {
  if (Buffer.isBuffer(value)) return { $bin: value.toString("base64") };
  if (value instanceof ArrayBuffer) return { $bin: Buffer.from(value).toString("base64") };
  if (ArrayBuffer.isView(value)) {
    return { $bin: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") };
  }
  if (Array.isArray(value)) return value.map(toWire);
  if (value && typeof value === "object") {
    const res = {};
    for (const [k, v] of Object.entries(value)) res[k] = toWire(v);
    return res;
  }
  return value;
}

// The inverse of toWire: {"$bin": ...} objects become Buffers.
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

function driverError(err) {
  emit({ ev: "driver_error", message: String((err && err.stack) || err) });
}

// The Socket.IO peers' loop: handler(command) for each stdin line, a thrown error reported as
// {ev: "driver_error"}; exits when stdin closes unless `exitOnClose` is false.
function onDriverCommands(handler, { exitOnClose = true } = {}) {
  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    if (!line.trim()) return;
    const cmd = JSON.parse(line);
    try {
      handler(cmd);
    } catch (err) {
      driverError(err);
    }
  });
  if (exitOnClose) rl.on("close", () => process.exit(0));
}

// Calls handler(command) for each stdin line; exits when stdin closes so no process outlives its test.
function onCommands(handler) {
  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    if (!line.trim()) return;
    let cmd;
    try {
      cmd = JSON.parse(line);
    } catch (err) {
      emit({ event: "command_error", message: "bad JSON: " + line });
      return;
    }
    try {
      handler(cmd);
    } catch (err) {
      emit({ event: "command_error", cmd: cmd.cmd, message: String((err && err.stack) || err) });
    }
  });
  rl.on("close", () => process.exit(0));
}

// The Engine.IO peers report an uncaught exception as an {event: "uncaught"} line and carry on.
function reportUncaught() {
  process.on("uncaughtException", (err) => {
    emit({ event: "uncaught", message: String((err && err.stack) || err) });
  });
}

module.exports = {
  emit,
  encodeData,
  decodeData,
  kindOf,
  onCommands,
  reportUncaught,
  toWire,
  fromWire,
  driverError,
  onDriverCommands,
};
