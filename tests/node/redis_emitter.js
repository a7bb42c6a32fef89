// The official @socket.io/redis-emitter, driven by the Python tests.
// Usage: node redis_emitter.js <redis url> <key>; JSON commands on stdin, {"ev": ...} lines on stdout.
"use strict";

const { createClient } = require("redis");
const { Emitter } = require("@socket.io/redis-emitter");
const { drive } = require("./emitter_driver");

const [redisUrl, key] = process.argv.slice(2);

drive(async () => {
  const client = createClient({ url: redisUrl });
  client.on("error", () => {});
  await client.connect();
  const root = new Emitter(client, { key });
  return { root, of: (nsp) => root.of(nsp) };
});
