'use strict';
// Load generator for the aiosio benchmark suite.
//
// Speaks the Engine.IO v4 / Socket.IO v5 wire protocol directly (no client library), so the
// generator's own cost stays small and identical for every server under test.
//
//   node loadgen.js --mode echo --port 3000 --clients 100 --duration 5 --warmup 1 --server-pid 1234
//
// Modes: echo, ack, binary, bcast, idle, connrate, polling, latency.
// The last line on stdout is `RESULT <json>`; diagnostics go to stderr.

const http = require('http');
const fs = require('fs');
const { performance } = require('perf_hooks');
const WebSocket = require('ws');

// ---------------------------------------------------------------- arguments

function parseArgs(argv) {
  const opts = {
    mode: 'echo',
    host: '127.0.0.1',
    port: 3000,
    path: '/socket.io/',
    clients: 10,
    duration: 5,
    warmup: 1,
    window: 1,
    serverPid: 0,
    port2: 0, // bcast: every other client connects to a second server of the same cluster
    serverPid2: 0,
    clkTck: 100,
    payloadSize: 65536,
    rate: 2000,
    concurrency: 50,
    settle: 3,
    roundTimeout: 2,
    connectTimeout: 60,
    stalled: 0,
    rssEvery: 250,
    deflate: 0, // 1: offer permessage-deflate as the official client does (threshold 1024 bytes)
    echoSize: 0, // echo/latency: pad the echoed message to about this many bytes of JSON
  };
  const names = {
    '--mode': ['mode', String],
    '--host': ['host', String],
    '--port': ['port', Number],
    '--path': ['path', String],
    '--clients': ['clients', Number],
    '--duration': ['duration', Number],
    '--warmup': ['warmup', Number],
    '--window': ['window', Number],
    '--server-pid': ['serverPid', Number],
    '--port2': ['port2', Number],
    '--server-pid2': ['serverPid2', Number],
    '--clk-tck': ['clkTck', Number],
    '--payload-size': ['payloadSize', Number],
    '--rate': ['rate', Number],
    '--concurrency': ['concurrency', Number],
    '--settle': ['settle', Number],
    '--round-timeout': ['roundTimeout', Number],
    '--connect-timeout': ['connectTimeout', Number],
    '--stalled': ['stalled', Number],
    '--rss-every': ['rssEvery', Number],
    '--deflate': ['deflate', Number],
    '--echo-size': ['echoSize', Number],
  };
  for (let i = 2; i < argv.length; i += 2) {
    const spec = names[argv[i]];
    if (!spec || i + 1 >= argv.length) {
      throw new Error(`bad argument: ${argv[i]}`);
    }
    const value = spec[1](argv[i + 1]);
    if (spec[1] === Number && !Number.isFinite(value)) {
      throw new Error(`not a number: ${argv[i]} ${argv[i + 1]}`);
    }
    opts[spec[0]] = value;
  }
  if (opts.host !== '127.0.0.1' && opts.host !== 'localhost') {
    throw new Error('the load generator only talks to 127.0.0.1');
  }
  return opts;
}

const opts = parseArgs(process.argv);
const WS_URL = `ws://${opts.host}:${opts.port}${opts.path}?EIO=4&transport=websocket`;
const WS_URL2 = `ws://${opts.host}:${opts.port2}${opts.path}?EIO=4&transport=websocket`;
const POLL_PATH = `${opts.path}?EIO=4&transport=polling`;
const TEXT = { binary: false, compress: false };
// With --deflate 1, text goes out as the official client sends it: compressed from 1024 bytes on,
// once the server accepted the extension. The client checks the size itself: ws applies its own
// `threshold` only without context takeover, and would otherwise compress every message.
const DEFLATED_TEXT = { binary: false, compress: true };
const DEFLATE_THRESHOLD = 1024;
const BINARY = { binary: true, compress: false };

// Every run is bounded: if anything hangs, report and exit.
const HARD_LIMIT_S = opts.connectTimeout + opts.warmup + opts.duration + opts.settle + 60;
setTimeout(() => fail(`hard time limit of ${HARD_LIMIT_S}s reached`), HARD_LIMIT_S * 1000).unref();

function fail(message) {
  process.stderr.write(`loadgen: ${message}\n`);
  process.stdout.write(`RESULT ${JSON.stringify({ ok: false, error: message, mode: opts.mode })}\n`);
  process.exit(2);
}

process.on('uncaughtException', (err) => fail(`uncaught: ${err && err.stack ? err.stack : err}`));

// ---------------------------------------------------------------- measurement helpers

function processCpuUs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / opts.clkTck;
  } catch (err) {
    return NaN;
  }
}

function serverCpuUs() {
  if (!opts.serverPid) return NaN;
  // with a second server (a two-node cluster), the CPU of both
  return processCpuUs(opts.serverPid) + (opts.serverPid2 ? processCpuUs(opts.serverPid2) : 0);
}

function serverRssBytes() {
  if (!opts.serverPid) return NaN;
  try {
    const status = fs.readFileSync(`/proc/${opts.serverPid}/status`, 'latin1');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : NaN;
  } catch (err) {
    return NaN;
  }
}

function genCpuUs() {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function snapshot() {
  return { t: performance.now(), server: serverCpuUs(), gen: genCpuUs() };
}

function windowStats(a, b) {
  const wallS = (b.t - a.t) / 1000;
  const serverUs = b.server - a.server;
  const genUs = b.gen - a.gen;
  return {
    wall_s: wallS,
    server_cpu_us: serverUs,
    server_cpu_util: serverUs / 1e6 / wallS,
    gen_cpu_util: genUs / 1e6 / wallS,
    gen_saturated: genUs / 1e6 / wallS > 0.9,
  };
}

class Samples {
  constructor(cap) {
    this.buf = new Float64Array(cap);
    this.n = 0;
    this.dropped = 0;
  }
  add(v) {
    if (this.n < this.buf.length) this.buf[this.n++] = v;
    else this.dropped++;
  }
  summary() {
    if (this.n === 0) return { count: 0 };
    const s = this.buf.slice(0, this.n).sort();
    const q = (p) => s[Math.min(this.n - 1, Math.floor(p * this.n))];
    let sum = 0;
    for (let i = 0; i < this.n; i++) sum += s[i];
    return {
      count: this.n,
      mean_ms: sum / this.n,
      p50_ms: q(0.5),
      p90_ms: q(0.9),
      p99_ms: q(0.99),
      p999_ms: q(0.999),
      max_ms: s[this.n - 1],
    };
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------- websocket Socket.IO client

const C_0 = 0x30; // '0'
const C_2 = 0x32; // '2'
const C_3 = 0x33; // '3'
const C_4 = 0x34; // '4'
const C_5 = 0x35; // '5'
const PONG = Buffer.from('3');
const CONNECT = Buffer.from('40');

// A minimal Socket.IO client over a raw WebSocket. `onPacket(buf, isBinary)` receives every
// Socket.IO-level message after the namespace CONNECT completed; Engine.IO pings are answered here.
class WsClient {
  constructor(onPacket, url = WS_URL) {
    this.onPacket = onPacket;
    this.url = url;
    this.ws = null;
    this.ready = false;
    this.closed = false;
    this.closing = false;
  }

  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, {
        perMessageDeflate: opts.deflate === 1 ? { threshold: DEFLATE_THRESHOLD } : false,
        skipUTF8Validation: true,
        handshakeTimeout: 10000,
      });
      this.ws = ws;
      let stage = 0;
      ws.on('message', (data, isBinary) => {
        if (stage === 2) {
          if (!isBinary && data.length === 1 && data[0] === C_2) {
            ws.send(PONG, TEXT);
            return;
          }
          this.onPacket(data, isBinary);
          return;
        }
        if (isBinary) return;
        if (stage === 0 && data[0] === C_0) {
          stage = 1;
          ws.send(CONNECT, TEXT);
        } else if (stage === 1 && data[0] === C_4 && data[1] === C_0) {
          stage = 2;
          this.ready = true;
          resolve(this);
        } else if (stage === 1 && data[0] === C_4 && data[1] === 0x34) {
          reject(new Error(`connect refused: ${data.toString()}`));
        } else if (data.length === 1 && data[0] === C_2) {
          ws.send(PONG, TEXT);
        }
      });
      ws.on('error', (err) => {
        if (!this.ready) reject(err);
        else stats.errors++;
      });
      ws.on('close', () => {
        this.closed = true;
        if (!this.ready) reject(new Error('closed during handshake'));
        else if (!stopping && !this.closing) stats.unexpectedCloses++;
      });
    });
  }

  send(buf) {
    this.ws.send(buf, opts.deflate === 1 && buf.length >= DEFLATE_THRESHOLD ? DEFLATED_TEXT : TEXT);
  }

  sendBinary(buf) {
    this.ws.send(buf, BINARY);
  }

  close() {
    this.closing = true;
    if (this.ws && !this.closed) this.ws.terminate();
  }
}

const stats = { errors: 0, unexpectedCloses: 0, mismatches: 0 };
let stopping = false;

async function connectAll(n, makeClient, concurrency) {
  const clients = new Array(n);
  let next = 0;
  let failures = 0;
  const started = performance.now();
  async function worker() {
    while (next < n) {
      const i = next++;
      const c = makeClient(i);
      clients[i] = c;
      try {
        await c.connect();
      } catch (err) {
        failures++;
        if (failures === 1) process.stderr.write(`loadgen: connect failed: ${err.message}\n`);
        if (failures > Math.max(10, n * 0.01)) throw new Error(`too many connect failures (${failures})`);
      }
    }
  }
  const workers = [];
  for (let w = 0; w < Math.min(concurrency, n); w++) workers.push(worker());
  await withTimeout(Promise.all(workers), opts.connectTimeout * 1000, `connecting ${n} clients`);
  return { clients, failures, connect_s: (performance.now() - started) / 1000 };
}

function closeAll(clients) {
  stopping = true;
  for (const c of clients) if (c) c.close();
}

// Common shape of a closed-loop run: connect, start, warm up, measure, stop.
async function measuredRun(clients, start, counters) {
  start();
  await sleep(opts.warmup * 1000);
  counters.measuring = true;
  const c0 = counters.done;
  const a = snapshot();
  await sleep(opts.duration * 1000);
  const b = snapshot();
  counters.measuring = false;
  const done = counters.done - c0;
  const rssLoaded = serverRssBytes(); // every connection open and warm
  closeAll(clients);
  const w = windowStats(a, b);
  return Object.assign(w, {
    messages: done,
    per_s: done / w.wall_s,
    server_cpu_us_per_msg: w.server_cpu_us / done,
    rss_loaded_bytes: rssLoaded,
    echo_bytes: ECHO_MSG.length,
  });
}

// ---------------------------------------------------------------- modes

// With --echo-size, rows of a typical JSON document make the message about that long.
function echoMessage(size) {
  const rows = [];
  let text = '42["echo",{"id":1,"text":"hello, world","n":[1,2,3]}]';
  for (let i = 0; text.length < size; i++) {
    rows.push({ id: i, user: `user${(i * 7919) % 1000}`, score: (i * 37) % 101, active: i % 3 !== 0 });
    text = `42["echo",{"id":1,"text":"hello, world","rows":${JSON.stringify(rows)}}]`;
  }
  return Buffer.from(text);
}
const ECHO_MSG = echoMessage(opts.echoSize);

// The servers echo the same arguments, and JSON is compact everywhere, so the reply is the very
// message that was sent.
function isEchoReply(data) {
  return data.equals(ECHO_MSG);
}

/** Connect every client, then run the measured window with `start` setting each live one going. */
async function runClients(makeClient, counters, start) {
  const { clients, failures, connect_s } = await connectAll(opts.clients, makeClient, opts.concurrency);
  const live = clients.filter((c) => c.ready);
  const res = await measuredRun(clients, () => live.forEach(start), counters);
  return Object.assign(res, { connect_failures: failures, connect_s });
}

/** A client's kick: put `opts.window` messages in flight with `fire`. */
const fillWindow = (fire) => () => {
  for (let k = 0; k < opts.window; k++) fire();
};

async function modeEcho() {
  const counters = { done: 0, measuring: false };
  const lat = new Samples(4_000_000);
  const makeClient = () => {
    const sent = [];
    const c = new WsClient((data, isBinary) => {
      if (isBinary || !isEchoReply(data)) {
        stats.mismatches++;
        return;
      }
      const t0 = sent.shift();
      counters.done++;
      if (counters.measuring) lat.add(performance.now() - t0);
      if (!stopping) {
        sent.push(performance.now());
        c.send(ECHO_MSG);
      }
    });
    c.kick = () => {
      for (let k = 0; k < opts.window; k++) {
        sent.push(performance.now());
        c.send(ECHO_MSG);
      }
    };
    return c;
  };
  const res = await runClients(makeClient, counters, (c) => c.kick());
  return Object.assign(res, { latency: lat.summary() });
}

async function modeLatency() {
  // Open loop: every client sends at a fixed rate regardless of replies; aggregate rate = opts.rate.
  const counters = { done: 0, measuring: false };
  const lat = new Samples(4_000_000);
  let sentInWindow = 0;
  const makeClient = () => {
    const sent = [];
    const c = new WsClient((data, isBinary) => {
      if (isBinary || !isEchoReply(data)) {
        stats.mismatches++;
        return;
      }
      const t0 = sent.shift();
      counters.done++;
      if (counters.measuring && t0 !== undefined) lat.add(performance.now() - t0);
    });
    c.fire = () => {
      if (stopping) return;
      sent.push(performance.now());
      if (counters.measuring) sentInWindow++;
      c.send(ECHO_MSG);
    };
    return c;
  };
  const { clients, failures, connect_s } = await connectAll(opts.clients, makeClient, opts.concurrency);
  const live = clients.filter((c) => c.ready);
  const intervalMs = (1000 * live.length) / opts.rate;
  const timers = [];
  const res = await measuredRun(
    clients,
    () =>
      live.forEach((c, i) => {
        timers.push(
          setTimeout(() => {
            c.fire();
            timers.push(setInterval(c.fire, intervalMs));
          }, (i * intervalMs) / live.length),
        );
      }),
    counters,
  );
  timers.forEach((t) => clearTimeout(t));
  return Object.assign(res, {
    target_rate: opts.rate,
    sent_per_s: sentInWindow / res.wall_s,
    connect_failures: failures,
    connect_s,
    latency: lat.summary(),
  });
}

async function modeAck() {
  const counters = { done: 0, measuring: false };
  const lat = new Samples(4_000_000);
  const makeClient = () => {
    const sent = [];
    let nextId = 0;
    const fire = () => {
      const id = nextId++;
      sent.push({ id, t: performance.now() });
      c.send(Buffer.from(`42${id}["echo_ack",{"id":1,"text":"hello, world","n":[1,2,3]}]`));
    };
    const c = new WsClient((data, isBinary) => {
      if (isBinary || data[0] !== C_4 || data[1] !== C_3) {
        stats.mismatches++;
        return;
      }
      let id = 0;
      let i = 2;
      while (i < data.length && data[i] >= C_0 && data[i] <= 0x39) id = id * 10 + (data[i++] - C_0);
      const head = sent.shift();
      if (!head || head.id !== id || data[i] !== 0x5b) stats.mismatches++;
      counters.done++;
      if (counters.measuring && head) lat.add(performance.now() - head.t);
      if (!stopping) fire();
    });
    c.kick = fillWindow(fire);
    return c;
  };
  const res = await runClients(makeClient, counters, (c) => c.kick());
  return Object.assign(res, { latency: lat.summary() });
}

const BIN_HEADER = Buffer.from('451-["echo",{"_placeholder":true,"num":0}]');

async function modeBinary() {
  const counters = { done: 0, measuring: false };
  const lat = new Samples(1_000_000);
  const payload = Buffer.alloc(opts.payloadSize);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 2654435761) >>> 24;
  const makeClient = () => {
    const sent = [];
    let awaitingAttachment = false;
    const fire = () => {
      sent.push(performance.now());
      c.send(BIN_HEADER);
      c.sendBinary(payload);
    };
    const c = new WsClient((data, isBinary) => {
      if (!isBinary) {
        if (data[0] === C_4 && data[1] === C_5 && !awaitingAttachment) awaitingAttachment = true;
        else stats.mismatches++;
        return;
      }
      if (!awaitingAttachment || data.length !== payload.length) stats.mismatches++;
      awaitingAttachment = false;
      const t0 = sent.shift();
      counters.done++;
      if (counters.measuring) lat.add(performance.now() - t0);
      if (!stopping) fire();
    });
    c.kick = fillWindow(fire);
    return c;
  };
  const res = await runClients(makeClient, counters, (c) => c.kick());
  return Object.assign(res, {
    payload_bytes: opts.payloadSize,
    mib_per_s_each_way: (res.per_s * opts.payloadSize) / 1048576,
    latency: lat.summary(),
  });
}

const SEQ_KEY = Buffer.from('"seq":');
const BCAST_PREFIX = Buffer.from('42["bcast"');

async function modeBcast() {
  // Closed loop over rounds: client 0 emits `bcast`, the server sends it to every client (including
  // the sender); the next round starts when all clients got it or the round timed out.
  const n = opts.clients;
  let seq = 0;
  let reached = 0;
  let roundStart = 0;
  let roundTimer = null;
  let measuring = false;
  let roundMeasured = false;
  let deliveriesInWindow = 0;
  let late = 0;
  let rounds = 0;
  let timeouts = 0;
  let lost = 0;
  let finishRound = null;
  const lat = new Samples(1_000_000);

  const makeClient = (i) =>
    new WsClient((data, isBinary) => {
      if (isBinary || data.compare(BCAST_PREFIX, 0, BCAST_PREFIX.length, 0, BCAST_PREFIX.length) !== 0) {
        stats.mismatches++;
        return;
      }
      let i = data.indexOf(SEQ_KEY) + SEQ_KEY.length;
      let s = 0;
      while (data[i] >= C_0 && data[i] <= 0x39) s = s * 10 + (data[i++] - C_0);
      if (measuring) deliveriesInWindow++;
      if (s !== seq) {
        late++;
        return;
      }
      if (++reached === live.length) endRound(false);
    }, opts.port2 && i % 2 === 1 ? WS_URL2 : WS_URL);

  const { clients, failures, connect_s } = await connectAll(n, makeClient, opts.concurrency);
  const live = clients.filter((c) => c.ready);
  const trigger = live[0];

  function startRound() {
    if (stopping || !measuringOrWarm) {
      if (finishRound) finishRound();
      return;
    }
    seq++;
    reached = 0;
    roundMeasured = measuring;
    roundStart = performance.now();
    roundTimer = setTimeout(() => endRound(true), opts.roundTimeout * 1000);
    trigger.send(Buffer.from(`42["bcast",{"seq":${seq},"text":"hello, everyone"}]`));
  }

  function endRound(timedOut) {
    clearTimeout(roundTimer);
    if (roundMeasured) {
      rounds++;
      if (timedOut) {
        timeouts++;
        lost += live.length - reached;
      } else {
        lat.add(performance.now() - roundStart);
      }
    }
    setImmediate(startRound);
  }

  let measuringOrWarm = true;
  startRound();
  await sleep(opts.warmup * 1000);
  measuring = true;
  const a = snapshot();
  await sleep(opts.duration * 1000);
  const b = snapshot();
  measuring = false;
  measuringOrWarm = false;
  // Let the round in flight finish (or time out) so its losses are counted.
  await withTimeout(
    new Promise((resolve) => {
      finishRound = resolve;
    }),
    (opts.roundTimeout + 2) * 1000,
    'final broadcast round',
  );
  closeAll(clients);
  const w = windowStats(a, b);
  return Object.assign(w, {
    clients: live.length,
    connect_failures: failures,
    connect_s,
    rounds,
    round_timeouts: timeouts,
    lost_deliveries: lost,
    late_deliveries: late,
    deliveries: deliveriesInWindow,
    deliveries_per_s: deliveriesInWindow / w.wall_s,
    server_cpu_us_per_delivery: w.server_cpu_us / deliveriesInWindow,
    time_to_all: lat.summary(),
  });
}

async function modeIdle() {
  // Warm the server with a few short-lived connections so one-time allocations are not counted.
  const warm = await connectAll(Math.min(50, opts.clients), () => new WsClient(() => {}), 10);
  warm.clients.forEach((c) => c.close());
  await sleep(opts.settle * 1000);
  const rssBefore = serverRssBytes();
  const cpuBefore = serverCpuUs();
  const { clients, failures, connect_s } = await connectAll(
    opts.clients,
    () => new WsClient(() => {}),
    opts.concurrency,
  );
  const cpuAfterConnect = serverCpuUs();
  await sleep(opts.settle * 1000);
  const rssAfter = serverRssBytes();
  const live = clients.filter((c) => c.ready && !c.closed).length;
  closeAll(clients);
  return {
    connections: live,
    connect_failures: failures,
    connect_s,
    rss_before: rssBefore,
    rss_after: rssAfter,
    rss_per_conn: (rssAfter - rssBefore) / live,
    server_cpu_us_per_connect: (cpuAfterConnect - cpuBefore) / live,
  };
}

async function modeConnrate() {
  // `concurrency` loops, each: open a WebSocket, get the Engine.IO open packet, CONNECT to "/",
  // get the CONNECT reply, drop the connection, repeat.
  let measuring = false;
  let done = 0;
  let failures = 0;
  const lat = new Samples(2_000_000);
  let running = true;
  const live = new Set();
  async function loop() {
    while (running) {
      const c = new WsClient(() => {});
      live.add(c);
      const t0 = performance.now();
      try {
        await c.connect();
        if (measuring) {
          done++;
          lat.add(performance.now() - t0);
        }
      } catch (err) {
        if (measuring) failures++;
        await sleep(10);
      }
      c.close();
      live.delete(c);
    }
  }
  const loops = [];
  for (let i = 0; i < opts.concurrency; i++) loops.push(loop());
  await sleep(opts.warmup * 1000);
  measuring = true;
  const a = snapshot();
  await sleep(opts.duration * 1000);
  const b = snapshot();
  measuring = false;
  running = false;
  stopping = true;
  await withTimeout(Promise.all(loops), 15000, 'stopping connection loops').catch(() => {
    for (const c of live) c.close();
  });
  const w = windowStats(a, b);
  return Object.assign(w, {
    concurrency: opts.concurrency,
    handshakes: done,
    per_s: done / w.wall_s,
    failures,
    server_cpu_us_per_handshake: w.server_cpu_us / done,
    latency: lat.summary(),
  });
}

// ---------------------------------------------------------------- long-polling client

const RS = '\x1e';
const ECHO_TEXT = ECHO_MSG.toString();

function httpRequest(agent, method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: opts.host,
        port: opts.port,
        method,
        path,
        agent,
        timeout: 60000,
        headers: body !== undefined ? { 'Content-Type': 'text/plain;charset=UTF-8' } : {},
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200) reject(new Error(`${method} ${res.statusCode}: ${text}`));
          else resolve(text);
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} timed out`)));
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

class PollClient {
  constructor(counters, lat) {
    this.counters = counters;
    this.lat = lat;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    this.sid = null;
    this.ready = false;
    this.closed = false;
    this.outbox = [];
    this.posting = false;
    this.sent = [];
    this.onReady = null;
  }

  async connect() {
    const open = await httpRequest(this.agent, 'GET', POLL_PATH);
    if (open[0] !== '0') throw new Error(`unexpected open packet: ${open.slice(0, 80)}`);
    this.sid = JSON.parse(open.slice(1)).sid;
    this.path = `${POLL_PATH}&sid=${encodeURIComponent(this.sid)}`;
    const readyP = new Promise((resolve, reject) => {
      this.onReady = resolve;
      this.onFail = reject;
    });
    this.queue('40');
    this.pollLoop();
    await readyP;
    return this;
  }

  queue(packet) {
    this.outbox.push(packet);
    if (!this.posting) this.flush();
  }

  flush() {
    if (this.closed || this.outbox.length === 0) return;
    this.posting = true;
    const body = this.outbox.join(RS);
    this.outbox = [];
    httpRequest(this.agent, 'POST', this.path, body).then(
      () => {
        this.posting = false;
        this.flush();
      },
      (err) => this.error(err),
    );
  }

  error(err) {
    if (this.closed || stopping) return;
    this.closed = true;
    stats.errors++;
    if (!this.ready && this.onFail) this.onFail(err);
    else process.stderr.write(`loadgen: polling client error: ${err.message}\n`);
  }

  async pollLoop() {
    while (!this.closed && !stopping) {
      let body;
      try {
        body = await httpRequest(this.agent, 'GET', this.path);
      } catch (err) {
        this.error(err);
        return;
      }
      for (const packet of body.split(RS)) this.handle(packet);
    }
  }

  handle(packet) {
    if (packet === '2') {
      this.queue('3');
    } else if (packet === ECHO_TEXT) {
      const t0 = this.sent.shift();
      this.counters.done++;
      if (this.counters.measuring) this.lat.add(performance.now() - t0);
      if (!stopping) this.fire();
    } else if (packet.startsWith('40')) {
      this.ready = true;
      this.onReady(this);
    } else if (packet === '6') {
      // noop
    } else if (packet === '1') {
      this.error(new Error('server closed the session'));
    } else {
      stats.mismatches++;
    }
  }

  fire() {
    this.sent.push(performance.now());
    this.queue(ECHO_TEXT);
  }

  close() {
    this.closed = true;
    this.agent.destroy();
  }
}

async function modePolling() {
  const counters = { done: 0, measuring: false };
  const lat = new Samples(2_000_000);
  const res = await runClients(() => new PollClient(counters, lat), counters, (c) => c.fire());
  return Object.assign(res, { latency: lat.summary() });
}

async function modeStall() {
  // `stalled` clients connect, then stop reading (their socket is paused); `clients` readers keep
  // reading while reader 0 keeps `window` broadcasts of `payloadSize` characters in flight (a new
  // one each time one of its own comes back). Reports what each reader got in the window, how many
  // stalled clients the server cut off, and the server's RSS over the whole run.
  const rss = [];
  const t0 = performance.now();
  const sample = () => rss.push([(performance.now() - t0) / 1000, serverRssBytes()]);
  sample();
  const sampler = setInterval(sample, opts.rssEvery);
  const counts = new Array(opts.clients).fill(0);
  let measuring = false;
  let firing = false;
  const message = Buffer.from(`42["bcast","${'x'.repeat(opts.payloadSize)}"]`);
  const fire = () => {
    if (firing && !stopping) trigger.send(message);
  };
  const makeReader = (i) =>
    new WsClient((data, isBinary) => {
      if (isBinary || data.compare(BCAST_PREFIX, 0, BCAST_PREFIX.length, 0, BCAST_PREFIX.length) !== 0) {
        stats.mismatches++;
        return;
      }
      if (measuring) counts[i]++;
      if (i === 0) fire();
    });
  const readers = await connectAll(opts.clients, makeReader, opts.concurrency);
  const trigger = readers.clients[0];
  const stalled = await connectAll(opts.stalled, () => new WsClient(() => {}), opts.concurrency);
  for (const c of stalled.clients) if (c.ready) c.ws._socket.pause();
  const rssBefore = serverRssBytes();
  firing = true;
  for (let k = 0; k < opts.window; k++) fire();
  await sleep(opts.warmup * 1000);
  measuring = true;
  const a = snapshot();
  await sleep(opts.duration * 1000);
  const b = snapshot();
  measuring = false;
  firing = false;
  const rssPeak = Math.max(...rss.map((p) => p[1]).filter(Number.isFinite));
  // A cut-off client learns it once it reads again; a kept one is still open after that.
  for (const c of stalled.clients) if (c.ready && !c.closed) c.ws._socket.resume();
  await sleep(2000);
  const cutOff = stalled.clients.filter((c) => c.closed).length;
  clearInterval(sampler);
  closeAll([...readers.clients, ...stalled.clients]);
  const w = windowStats(a, b);
  const sorted = [...counts].sort((x, y) => x - y);
  return Object.assign(w, {
    readers: readers.clients.filter((c) => c.ready).length,
    stalled: stalled.clients.filter((c) => c.ready).length,
    stalled_cut_off: cutOff,
    per_reader_min: sorted[0],
    per_reader_median: sorted[Math.floor(sorted.length / 2)],
    per_reader_per_s: sorted[Math.floor(sorted.length / 2)] / w.wall_s,
    rss_before_bytes: rssBefore,
    rss_peak_bytes: rssPeak,
    rss_growth_bytes: rssPeak - rssBefore,
    rss_series: rss,
  });
}

// ---------------------------------------------------------------- main

const MODES = {
  echo: modeEcho,
  latency: modeLatency,
  ack: modeAck,
  binary: modeBinary,
  bcast: modeBcast,
  idle: modeIdle,
  connrate: modeConnrate,
  polling: modePolling,
  stall: modeStall,
};

async function main() {
  const run = MODES[opts.mode];
  if (!run) throw new Error(`unknown mode ${opts.mode}`);
  const result = await run();
  Object.assign(result, {
    ok: true,
    mode: opts.mode,
    clients_requested: opts.clients,
    window: opts.window,
    errors: stats.errors,
    unexpected_closes: stats.unexpectedCloses,
    mismatches: stats.mismatches,
  });
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  // Give terminated sockets a moment to go, then leave.
  setTimeout(() => process.exit(0), 200);
}

main().catch((err) => fail(err && err.stack ? err.stack : String(err)));
