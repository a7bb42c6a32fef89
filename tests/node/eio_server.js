"use strict";
// The reference engine.io server, to check what the tests expect. argv[2]: JSON engine.io options plus
// {refuse: <message>} (allowRequest refuses with it) and {corsOrigins: [...]} (cors with that list).
// Events: listening {port}, connection, message, upgrade, close, connection_error, clients.
// Commands: send {sid, data}, close {sid}, clients, shutdown.
const http = require("http");
const { Server } = require("engine.io");
const { emit, encodeData, decodeData, kindOf, onCommands, reportUncaught } = require("./lines");

reportUncaught();

const config = JSON.parse(process.argv[2] || "{}");
const { refuse, corsOrigins, ...opts } = config;
if (refuse !== undefined) {
  opts.allowRequest = (req, callback) => callback(refuse, false);
}
if (corsOrigins !== undefined) {
  opts.cors = { origin: corsOrigins };
}

const httpServer = http.createServer((req, res) => {
  res.writeHead(404);
  res.end("not found");
});
const engine = new Server(opts);
engine.attach(httpServer, { path: opts.path || "/engine.io" });

engine.on("connection", (socket) => {
  emit({ event: "connection", sid: socket.id, transport: socket.transport.name });
  socket.on("message", (data) =>
    emit({ event: "message", sid: socket.id, data: encodeData(data), kind: kindOf(data) })
  );
  socket.on("upgrade", (transport) =>
    emit({ event: "upgrade", sid: socket.id, transport: transport.name })
  );
  socket.on("close", (reason, description) =>
    emit({
      event: "close",
      sid: socket.id,
      reason,
      description: description ? String(description.message || description) : null,
    })
  );
});
engine.on("connection_error", (err) =>
  emit({ event: "connection_error", code: err.code, message: err.message })
);

httpServer.listen(0, "127.0.0.1", () => emit({ event: "listening", port: httpServer.address().port }));

onCommands((cmd) => {
  switch (cmd.cmd) {
    case "send":
      engine.clients[cmd.sid].send(decodeData(cmd.data));
      break;
    case "close":
      if (engine.clients[cmd.sid]) engine.clients[cmd.sid].close();
      break;
    case "clients":
      emit({ event: "clients", count: engine.clientsCount, sids: Object.keys(engine.clients) });
      break;
    case "shutdown":
      engine.close();
      httpServer.close(() => process.exit(0));
      break;
    default:
      emit({ event: "command_error", cmd: cmd.cmd, message: "unknown command" });
  }
});
