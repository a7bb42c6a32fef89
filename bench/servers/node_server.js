'use strict';
// Reference peer: the official socket.io server with the benchmark handlers.
//   node node_server.js --port 3000
// Set WS_NO_BUFFER_UTIL=1 to run without the optional bufferutil addon (the default `npm install
// socket.io` setup); the benchmark runner reports both.
const http = require('http');
const { Server } = require('socket.io');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const port = Number(arg('--port', '3000'));
const host = arg('--host', '127.0.0.1');

const httpServer = http.createServer();
// --per-message-deflate 1: the reference's perMessageDeflate (threshold 1024 bytes)
const perMessageDeflate = arg('--per-message-deflate', '0') === '1';
const io = new Server(httpServer, { serveClient: false, perMessageDeflate });

io.on('connection', (socket) => {
  socket.on('echo', (...args) => {
    socket.emit('echo', ...args);
  });
  socket.on('echo_ack', (...args) => {
    const ack = args.pop();
    if (typeof ack === 'function') ack(...args);
  });
  socket.on('bcast', (...args) => {
    io.emit('bcast', ...args);
  });
});

httpServer.listen(port, host, () => {
  const bufferutil = !process.env.WS_NO_BUFFER_UTIL;
  process.stdout.write(`LISTENING ${httpServer.address().port} bufferutil=${bufferutil}\n`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    io.close();
    process.exit(0);
  });
}
