// A configurable official socket.io server for the client tests.
//
//   node sio_server.js <port> '<json options>'
//
// Options: transports, pingInterval, pingTimeout, path, connectionStateRecovery (object),
// maxHttpBufferSize, perMessageDeflate. Everything observable is printed on stdout as one JSON object per line.
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || 0);
const options = JSON.parse(process.argv[3] || "{}");

function print(obj) {
  process.stdout.write(JSON.stringify(obj, (k, v) => (Buffer.isBuffer(v) || (v && v.type === "Buffer") ? { buffer: Buffer.from(v).toString("hex") } : v)) + "\n");
}

const httpServer = http.createServer();
const serverOptions = {
  pingInterval: options.pingInterval ?? 25000,
  pingTimeout: options.pingTimeout ?? 20000,
};
if (options.transports) serverOptions.transports = options.transports;
if (options.path) serverOptions.path = options.path;
if (options.connectionStateRecovery) serverOptions.connectionStateRecovery = options.connectionStateRecovery;
if (options.maxHttpBufferSize) serverOptions.maxHttpBufferSize = options.maxHttpBufferSize;
if (options.perMessageDeflate !== undefined) serverOptions.perMessageDeflate = options.perMessageDeflate;
const io = new Server(httpServer, serverOptions);

io.engine.on("connection", (rawSocket) => {
  // extensions: what the WebSocket negotiated ("permessage-deflate" or ""), null over polling
  const extensions = (transport) => (transport.socket ? transport.socket.extensions : null);
  print({ event: "handshake", sid: rawSocket.id, transport: rawSocket.transport.name, extensions: extensions(rawSocket.transport) });
  rawSocket.on("upgrade", (transport) => print({ event: "upgrade", sid: rawSocket.id, transport: transport.name, extensions: extensions(transport) }));
  rawSocket.on("close", (reason) => print({ event: "engine_close", sid: rawSocket.id, reason }));
});

const flakyCounts = new Map();

function setup(nsp) {
  nsp.use((socket, next) => {
    const auth = socket.handshake.auth;
    print({ event: "middleware", nsp: nsp.name, auth });
    if (nsp.name === "/forbidden" || (auth && auth.token === "bad")) {
      const err = new Error("refused");
      err.data = { reason: "bad token" };
      return next(err);
    }
    next();
  });

  nsp.on("connection", (socket) => {
    print({
      event: "connection",
      nsp: nsp.name,
      id: socket.id,
      recovered: socket.recovered,
      auth: socket.handshake.auth,
      query: socket.handshake.query,
      header: socket.handshake.headers["x-test"] || null,
      transport: socket.conn.transport.name,
    });
    socket.on("disconnect", (reason) => print({ event: "disconnect", nsp: nsp.name, id: socket.id, reason }));
    socket.on("echo", (...args) => socket.emit("echo", ...args));
    socket.on("ack", (...args) => {
      const cb = args.pop();
      cb(...args);
    });
    socket.on("no_ack", () => {});
    socket.on("record", (...args) => {
      const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
      print({ event: "record", nsp: nsp.name, id: socket.id, args });
      if (cb) cb("ok");
    });
    socket.on("flaky", (key, cb) => {
      const count = (flakyCounts.get(key) || 0) + 1;
      flakyCounts.set(key, count);
      print({ event: "flaky", key, count });
      if (count >= 2) cb("ok:" + key);
    });
    socket.on("binary", (buf, cb) => {
      const out = Buffer.concat([buf, Buffer.from([1, 2, 3])]);
      socket.emit("binary", { buf: out, list: [Buffer.from("xyz"), 7] });
      cb(out, "text");
    });
    socket.on("get_transport", (cb) => cb(socket.conn.transport.name));
    socket.on("many", (count) => {
      for (let i = 0; i < count; i++) socket.emit("item", i);
    });
    socket.on("server_disconnect", () => socket.disconnect());
    socket.on("raw", (data) => socket.conn.write(data));
    socket.on("close_transport", () => socket.conn.close());
    socket.on("broadcast", (...args) => io.emit("news", ...args));
    socket.on("close_then_broadcast", (msg) => {
      socket.conn.close();
      setTimeout(() => io.emit("news", msg), 20);
    });
    socket.on("ask", async (...args) => {
      try {
        const answer = await socket.timeout(2000).emitWithAck("question", ...args);
        print({ event: "answer", answer });
      } catch (e) {
        print({ event: "answer_error", message: e.message });
      }
    });
    socket.on("ask_many", (...args) => {
      socket.timeout(2000).emit("question_many", ...args, (err, ...answer) => {
        print({ event: "answer", answer, error: err ? err.message : null });
      });
    });
  });
}

for (const name of ["/", "/admin", "/other", "/forbidden"]) setup(io.of(name));

httpServer.listen(port, "127.0.0.1", () => {
  print({ event: "listening", port: httpServer.address().port });
});

process.on("SIGTERM", () => process.exit(0));
// Exit when stdin closes, so that no server outlives the test process.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
