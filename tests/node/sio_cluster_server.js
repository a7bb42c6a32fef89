// A Node socket.io server in a cluster with aiosio servers, driven by the Python tests.
// Usage: node sio_cluster_server.js <redis|sharded|streams|postgres|emitter>[@cluster|@valkey]
//        <redis or postgres url> <prefix> [recovery]
// JSON commands on stdin, JSON events on stdout ({"ev": ...}), one per line. Binary as {"$bin": base64}.
"use strict";

const http = require("http");
const { createClient, createCluster } = require("redis");
const { Server } = require("socket.io");
const { emit: out, toWire, fromWire, driverError, onDriverCommands } = require("./lines");

// "<kind>@valkey": the same adapter on a Valkey server
const [rawKind, redisUrl, prefix, recovery] = process.argv.slice(2);
const kind = rawKind.replace(/@valkey$/, "");

function target(io, cmd) {
  let op = io.of(cmd.nsp || "/");
  if (cmd.rooms && cmd.rooms.length) op = op.to(cmd.rooms);
  if (cmd.except && cmd.except.length) op = op.except(cmd.except);
  if (cmd.local) op = op.local;
  if (cmd.timeout) op = op.timeout(cmd.timeout);
  return op;
}

function describe(socket) {
  return {
    id: socket.id,
    rooms: [...socket.rooms].sort(),
    data: socket.data,
    auth: socket.handshake.auth,
    remote: socket.constructor.name === "RemoteSocket",
  };
}

async function main() {
  let adapter = null;
  let pub = null;
  if (kind === "postgres") {
    const pg = require("pg");
    const pool = new pg.Pool({ connectionString: redisUrl });
    pool.on("error", () => {});
    await pool.query(
      "CREATE TABLE IF NOT EXISTS socket_io_attachments (id bigserial UNIQUE, " +
        "created_at timestamptz DEFAULT NOW(), payload bytea)",
    );
    adapter = require("@socket.io/postgres-adapter").createAdapter(pool, {
      channelPrefix: prefix,
      heartbeatInterval: 500,
      heartbeatTimeout: 2000,
      requestsTimeout: 1000,
    });
  } else if (kind.endsWith("@cluster")) {
    pub = createCluster({ rootNodes: [{ url: redisUrl }] });
    pub.on("error", () => {});
    await pub.connect();
  } else {
    pub = createClient({ url: redisUrl });
    pub.on("error", () => {});
    await pub.connect();
  }
  if (kind === "redis" || kind === "redis@cluster") {
    const sub = pub.duplicate();
    sub.on("error", () => {});
    await sub.connect();
    adapter = require("@socket.io/redis-adapter").createAdapter(pub, sub, {
      key: prefix,
      requestsTimeout: 1000,
    });
  } else if (kind === "sharded" || kind === "sharded@cluster") {
    const sub = pub.duplicate();
    sub.on("error", () => {});
    await sub.connect();
    adapter = require("@socket.io/redis-adapter").createShardedAdapter(pub, sub, {
      channelPrefix: prefix,
    });
  } else if (kind === "streams" || kind === "streams@cluster") {
    adapter = require("@socket.io/redis-streams-adapter").createAdapter(pub, {
      streamName: prefix,
      channelPrefix: prefix,
      blockTimeInMs: 1000,
    });
  }
  const options = { pingInterval: 1000, pingTimeout: 1000 };
  if (adapter) options.adapter = adapter;
  if (recovery) options.connectionStateRecovery = { maxDisconnectionDuration: 10000 };
  const httpServer = http.createServer();
  const io = new Server(httpServer, options);

  const onConnection = (socket) => {
    const auth = socket.handshake.auth || {};
    socket.data = { name: auth.name };
    if (auth.rooms) socket.join(auth.rooms);
    out({ ev: "connection", nsp: socket.nsp.name, id: socket.id, pid: socket.pid || null, recovered: socket.recovered });
    socket.on("disconnect", (reason) => out({ ev: "disconnect", id: socket.id, reason }));
  };
  io.on("connection", onConnection);
  io.of("/admin").on("connection", onConnection);
  io.on("ping-servers", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    out({ ev: "server_side", args: toWire(args), ack: ack !== null });
    if (ack) ack("node-pong");
  });

  const handlers = {
    emit(cmd) {
      target(io, cmd).emit(cmd.event, ...fromWire(cmd.args || []));
    },
    async emit_with_ack(cmd) {
      try {
        const responses = await target(io, cmd).emitWithAck(cmd.event, ...fromWire(cmd.args || []));
        out({ ev: "acks", tag: cmd.tag, responses: toWire(responses) });
      } catch (err) {
        out({ ev: "acks", tag: cmd.tag, error: err.message });
      }
    },
    async fetch(cmd) {
      try {
        const sockets = await target(io, cmd).fetchSockets();
        out({ ev: "fetched", tag: cmd.tag, sockets: toWire(sockets.map(describe)) });
      } catch (err) {
        out({ ev: "fetched", tag: cmd.tag, error: err.message });
      }
    },
    async remote(cmd) {
      const sockets = await io.fetchSockets();
      const socket = sockets.find((s) => s.id === cmd.sid);
      if (!socket) return out({ ev: "remote", tag: cmd.tag, error: "not found" });
      if (cmd.op === "emit") socket.emit(cmd.event, ...fromWire(cmd.args || []));
      if (cmd.op === "emit_with_ack") {
        try {
          const answer = await socket.timeout(2000).emitWithAck(cmd.event, ...fromWire(cmd.args || []));
          return out({ ev: "remote", tag: cmd.tag, answer: toWire(answer) });
        } catch (err) {
          return out({ ev: "remote", tag: cmd.tag, error: err.message });
        }
      }
      if (cmd.op === "join") socket.join(cmd.room);
      if (cmd.op === "leave") socket.leave(cmd.room);
      if (cmd.op === "disconnect") socket.disconnect(true);
      out({ ev: "remote", tag: cmd.tag, remote: socket.constructor.name === "RemoteSocket" });
    },
    sockets_join(cmd) {
      target(io, cmd).socketsJoin(cmd.room);
    },
    sockets_leave(cmd) {
      target(io, cmd).socketsLeave(cmd.room);
    },
    disconnect_sockets(cmd) {
      target(io, cmd).disconnectSockets(!!cmd.close);
    },
    server_side_emit(cmd) {
      io.serverSideEmit(cmd.event, ...fromWire(cmd.args || []));
    },
    async server_side_emit_with_ack(cmd) {
      try {
        const responses = await io.serverSideEmitWithAck(cmd.event, ...fromWire(cmd.args || []));
        out({ ev: "ss_acks", tag: cmd.tag, responses: toWire(responses) });
      } catch (err) {
        out({ ev: "ss_acks", tag: cmd.tag, error: err.message });
      }
    },
    async server_count(cmd) {
      out({ ev: "server_count", tag: cmd.tag, count: await io.of("/").adapter.serverCount() });
    },
    exit() {
      process.exit(0);
    },
  };

  onDriverCommands((cmd) => {
    Promise.resolve()
      .then(() => handlers[cmd.cmd](cmd))
      .catch(driverError);
  });

  httpServer.listen(0, "127.0.0.1", () => {
    out({ ev: "ready", port: httpServer.address().port });
  });
}

main().catch((err) => {
  driverError(err);
  process.exit(1);
});
