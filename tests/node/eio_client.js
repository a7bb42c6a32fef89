"use strict";
// The official engine.io-client as a peer. argv[2]: JSON {url, options}.
// Events: open, handshake, upgrade, upgrade_error, message, ping, error, close, state, pong_dropped.
// Commands: send {data}, close, drop_pongs {on}, state (transport, readyState, extensions).
const { Socket, Fetch } = require("engine.io-client");
const { emit, encodeData, decodeData, kindOf, onCommands, reportUncaught } = require("./lines");

reportUncaught();

const config = JSON.parse(process.argv[2]);
const options = config.options || {};
if (options.transports) {
  // "fetch": long-polling over fetch(), which asks for (and decodes) compressed responses
  options.transports = options.transports.map((t) => (t === "fetch" ? Fetch : t));
}
const socket = new Socket(config.url, options);

let dropPongs = false;
const sendPacket = socket._sendPacket.bind(socket);
socket._sendPacket = (type, ...rest) => {
  if (type === "pong" && dropPongs) {
    emit({ event: "pong_dropped" });
    return;
  }
  return sendPacket(type, ...rest);
};

const errorText = (err) => (err == null ? null : String(err.message || err.description || err));

socket.on("open", () => emit({ event: "open", id: socket.id, transport: socket.transport.name }));
socket.on("handshake", (data) => emit({ event: "handshake", data }));
socket.on("upgrade", (transport) => emit({ event: "upgrade", transport: transport.name }));
socket.on("upgradeError", (err) => emit({ event: "upgrade_error", message: errorText(err) }));
socket.on("message", (data) =>
  emit({ event: "message", data: encodeData(data), kind: kindOf(data) })
);
socket.on("ping", () => emit({ event: "ping" }));
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
    case "drop_pongs":
      dropPongs = cmd.on !== false;
      break;
    case "state":
      emit({
        event: "state",
        id: socket.id,
        transport: socket.transport ? socket.transport.name : null,
        readyState: socket.readyState,
        // the WebSocket extensions the server accepted ("permessage-deflate" or "")
        extensions: socket.transport && socket.transport.ws ? socket.transport.ws.extensions : null,
      });
      break;
    default:
      emit({ event: "command_error", cmd: cmd.cmd, message: "unknown command" });
  }
});
