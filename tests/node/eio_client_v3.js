"use strict";
// engine.io-client 3.x (Engine.IO protocol v3) as a peer. argv[2]: JSON {url, options}.
// Events: open, handshake, upgrade, upgrade_error, message, ping (sent), pong (received), error, close,
// state. Commands: send {data}, close, stop_pings, state.
const Socket = require("engine.io-client-v3");
const { emit, encodeData, decodeData, kindOf, onCommands, reportUncaught } = require("./lines");

reportUncaught();

const config = JSON.parse(process.argv[2]);
const socket = new Socket(config.url, config.options || {});

const errorText = (err) => (err == null ? null : String(err.message || err.description || err));

socket.on("open", () => emit({ event: "open", id: socket.id, transport: socket.transport.name }));
socket.on("handshake", (data) => emit({ event: "handshake", data }));
socket.on("upgrade", (transport) => emit({ event: "upgrade", transport: transport.name }));
socket.on("upgradeError", (err) => emit({ event: "upgrade_error", message: errorText(err) }));
socket.on("message", (data) =>
  emit({ event: "message", data: encodeData(data), kind: kindOf(data) })
);
socket.on("ping", () => emit({ event: "ping" }));
socket.on("pong", () => emit({ event: "pong" }));
socket.on("error", (err) => emit({ event: "error", message: errorText(err) }));
socket.on("close", (reason, description) =>
  emit({ event: "close", reason, description: errorText(description) })
);

onCommands((cmd) => {
  switch (cmd.cmd) {
    case "send":
      socket.send(decodeData(cmd.data));
      break;
    case "close":
      socket.close();
      break;
    case "stop_pings":
      // the client goes silent: no more pings, as a frozen peer would
      socket.ping = () => {};
      socket.setPing = () => {};
      socket.onHeartbeat = () => {};
      clearTimeout(socket.pingIntervalTimer);
      clearTimeout(socket.pingTimeoutTimer);
      emit({ event: "pings_stopped" });
      break;
    case "state":
      emit({
        event: "state",
        id: socket.id,
        transport: socket.transport ? socket.transport.name : null,
        readyState: socket.readyState,
      });
      break;
    default:
      emit({ event: "command_error", cmd: cmd.cmd, message: "unknown command" });
  }
});
