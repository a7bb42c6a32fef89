"use strict";
// Throws malformed input at a Socket.IO server: WebSocket frames after a valid upgrade request and
// polling bodies on fresh sessions, one bad input per session, `concurrency` at a time.
//   node hostile.js <port> <count> <concurrency>
// Emits {event:"progress", sent} every 10,000 inputs and {event:"done", sent, websocket, polling,
// outcomes} at the end. Every input must end with the server closing or refusing: an input that
// gets no answer within 10 s counts as "hung".
const net = require("net");
const crypto = require("crypto");
const { emit } = require("./lines.js");

const [port, count, concurrency] = process.argv.slice(2).map(Number);

function frame(opcode, payload, { fin = true, mask = true, rsv = 0, length = null } = {}) {
  const data = Buffer.from(payload);
  const len = length === null ? data.length : length;
  const head = [((fin ? 0x80 : 0) | rsv | opcode) & 0xff];
  const m = mask ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 0xff);
  else {
    head.push(m | 127, 0, 0, 0, 0);
    head.push((len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), data]);
  const key = crypto.randomBytes(4);
  const body = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) body[i] = data[i] ^ key[i & 3];
  return Buffer.concat([Buffer.from(head), key, body]);
}

const text = (s) => frame(1, s);
const CONNECT = text("40");
// Bad at every layer: WebSocket framing, Engine.IO packets, Socket.IO packets, attachments.
const WS_INPUTS = [
  () => text('42["x"'),
  () => text("4{}"),
  () => text("9"),
  () => text('42["disconnect"]'),
  () => Buffer.concat([text('451-["a",{"_placeholder":true,"num":5}]'), frame(2, "attachment")]),
  () => text("4" + "9".repeat(20) + '["a"]'),
  () => text("4/nope,[1]"),
  () => text("2probe"),
  () => frame(1, Buffer.from([0x34, 0xff, 0xfe])),
  () => frame(2, crypto.randomBytes(40)),
  () => frame(3, "reserved opcode"),
  () => frame(1, "unmasked", { mask: false }),
  () => frame(1, "rsv", { rsv: 0x40 }),
  () => frame(9, "x".repeat(126)),
  () => frame(8, Buffer.from([0x03])),
  () => frame(1, "4", { length: 10_000_000 }),
  () => Buffer.concat([frame(1, "4a", { fin: false }), frame(1, "b")]),
  () => frame(0, "continuation first"),
  () => text("z" + crypto.randomBytes(30).toString("latin1")),
  () => Buffer.concat([Buffer.from([0xf0 | (Math.random() * 16) | 0]), crypto.randomBytes(63)]),
];
const POLL_BODIES = [
  "4\x1e",
  "",
  "b!!!!",
  "9",
  '42["x"',
  "40\x1e" + '2["a"',
  "1\x1e1",
  "\x1e\x1e\x1e",
  "4".repeat(200) + "\x1e" + "x",
  Buffer.from([0xff, 0xfe, 0xfd]),
];

const outcomes = { closed: 0, refused: 0, hung: 0, errors: 0 };
let sent = 0;
let websocket = 0;
let polling = 0;
let next = 0;

function upgradeRequest() {
  const key = crypto.randomBytes(16).toString("base64");
  return Buffer.from(
    "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
      "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
}

function finish(sock, timer, resolve, how, what) {
  if (process.env.HOSTILE_DEBUG) process.stderr.write(`${what}: ${how}\n`);
  clearTimeout(timer);
  outcomes[how]++;
  sock.destroy();
  resolve();
}

// Reads server frames after the 101 answer; answers a close frame with one, as a client does.
function closeOnServerClose(sock) {
  let buf = Buffer.alloc(0);
  let head = true;
  sock.on("data", (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    if (head) {
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      if (!buf.subarray(0, 12).toString().startsWith("HTTP/1.1 101")) {
        sock.end();
        return;
      }
      head = false;
      buf = buf.subarray(end + 4);
    }
    while (buf.length >= 2) {
      let len = buf[1] & 0x7f;
      let at = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        at = 10;
      }
      if (buf.length < at + len) return;
      if ((buf[0] & 0x0f) === 8) {
        sock.write(frame(8, buf.subarray(at, at + Math.min(len, 2))));
        buf = Buffer.alloc(0);
        return;
      }
      buf = buf.subarray(at + len);
    }
  });
}

function wsInput(i) {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    let done = false;
    const end = (how) => {
      if (!done) {
        done = true;
        finish(sock, timer, resolve, how, `ws ${i % WS_INPUTS.length}`);
      }
    };
    const timer = setTimeout(() => end("hung"), 10_000);
    sock.on("connect", () => {
      const bad = WS_INPUTS[i % WS_INPUTS.length]();
      sock.write(Buffer.concat([upgradeRequest(), i % 2 ? CONNECT : Buffer.alloc(0), bad]));
    });
    closeOnServerClose(sock);
    sock.on("error", () => end("closed"));
    sock.on("close", () => end("closed"));
  });
}

function httpRequest(sock, method, query, body) {
  const data = Buffer.from(body);
  sock.write(
    `${method} /socket.io/?EIO=4&transport=polling${query} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      `Content-Type: text/plain;charset=UTF-8\r\nContent-Length: ${data.length}\r\n\r\n`,
  );
  if (data.length) sock.write(data);
}

function pollInput(i) {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    let buf = "";
    let stage = 0;
    let done = false;
    const end = (how) => {
      if (!done) {
        done = true;
        finish(sock, timer, resolve, how, `poll ${i % POLL_BODIES.length} stage ${stage}`);
      }
    };
    const timer = setTimeout(() => end("hung"), 10_000);
    sock.on("connect", () => httpRequest(sock, "GET", "", ""));
    sock.on("data", (chunk) => {
      buf += chunk.toString("latin1");
      if (stage === 0) {
        const m = /"sid":"([^"]+)"/.exec(buf);
        if (!m) return;
        stage = 1;
        buf = "";
        httpRequest(sock, "POST", `&sid=${m[1]}`, POLL_BODIES[i % POLL_BODIES.length]);
      } else if (/\r\n\r\n/.test(buf)) {
        end(/^HTTP\/1.1 200/.test(buf) ? "closed" : "refused");
      }
    });
    sock.on("error", () => end("errors"));
    sock.on("close", () => end(stage ? "closed" : "errors"));
  });
}

async function worker() {
  while (next < count) {
    const i = next++;
    if (i % 3 === 2) {
      polling++;
      await pollInput(i);
    } else {
      websocket++;
      await wsInput(i);
    }
    sent++;
    if (sent % 10_000 === 0) emit({ event: "progress", sent });
  }
}

async function main() {
  const workers = [];
  for (let w = 0; w < concurrency; w++) workers.push(worker());
  await Promise.all(workers);
  emit({ event: "done", sent, websocket, polling, outcomes });
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
});
