// The official @socket.io/postgres-emitter, driven by the Python tests.
// Usage: node postgres_emitter.js <postgres url> <channel prefix>; JSON commands on stdin, {"ev": ...}
// lines on stdout.
"use strict";

const pg = require("pg");
const { Emitter } = require("@socket.io/postgres-emitter");
const { drive } = require("./emitter_driver");

const [url, channelPrefix] = process.argv.slice(2);

drive(async () => {
  const pool = new pg.Pool({ connectionString: url });
  pool.on("error", () => {});
  const root = new Emitter(pool, "/", { channelPrefix });
  // the emitter's of() forgets the options: build the namespace's emitter directly
  return { root, of: (nsp) => new Emitter(pool, nsp, { channelPrefix }) };
});
