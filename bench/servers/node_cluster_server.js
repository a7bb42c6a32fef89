'use strict';
// One node of a Node socket.io cluster with the benchmark's `bcast` handler.
//   node node_cluster_server.js --port 3000 --adapter sharded --url redis://127.0.0.1:6379 --prefix b1
// Adapters: redis, sharded (@socket.io/redis-adapter), streams (@socket.io/redis-streams-adapter),
// postgres (@socket.io/postgres-adapter, --url postgresql://...). They come from the repository's own
// node_modules (`make node_modules/.installed`), where the test suite's peers live.
const http = require('http');
const { Server } = require('socket.io');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const port = Number(arg('--port', '3000'));
const host = arg('--host', '127.0.0.1');
const kind = arg('--adapter', 'redis');
const url = arg('--url', 'redis://127.0.0.1:6379');
const prefix = arg('--prefix', 'socket.io');

async function makeAdapter() {
  if (kind === 'postgres') {
    const pg = require('pg');
    const pool = new pg.Pool({ connectionString: url });
    await pool.query(
      'CREATE TABLE IF NOT EXISTS socket_io_attachments (id bigserial UNIQUE, ' +
        'created_at timestamptz DEFAULT NOW(), payload bytea)',
    );
    return require('@socket.io/postgres-adapter').createAdapter(pool, { channelPrefix: prefix });
  }
  const { createClient } = require('redis');
  const pub = createClient({ url });
  await pub.connect();
  if (kind === 'streams') {
    return require('@socket.io/redis-streams-adapter').createAdapter(pub, {
      streamName: prefix,
      channelPrefix: prefix,
    });
  }
  const sub = pub.duplicate();
  await sub.connect();
  const redisAdapter = require('@socket.io/redis-adapter');
  if (kind === 'sharded') return redisAdapter.createShardedAdapter(pub, sub, { channelPrefix: prefix });
  return redisAdapter.createAdapter(pub, sub, { key: prefix });
}

async function main() {
  const httpServer = http.createServer();
  const io = new Server(httpServer, { serveClient: false, adapter: await makeAdapter() });
  io.on('connection', (socket) => {
    socket.on('bcast', (...args) => {
      io.emit('bcast', ...args);
    });
  });
  httpServer.listen(port, host, () => {
    process.stdout.write(`LISTENING ${httpServer.address().port}\n`);
  });
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => process.exit(0));
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
