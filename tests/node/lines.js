"use strict";
// JSON-lines plumbing shared by the peer scripts: events out on stdout, commands in on stdin.
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

process.on("uncaughtException", (err) => {
  emit({ event: "uncaught", message: String((err && err.stack) || err) });
});

module.exports = { emit, encodeData, decodeData, kindOf, onCommands };
