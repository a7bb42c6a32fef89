// Shared by the browser scripts: launch Debian's chromium through playwright-core, report steps as
// JSON lines, read commands from stdin.
"use strict";

const readline = require("readline");
const { chromium } = require("playwright-core");

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

// playwright gives every launch a fresh temporary profile (--user-data-dir), removed on close.
// options.quic keeps QUIC on (WebTransport runs over HTTP/3).
async function launch(options) {
  const args = options.quic ? FLAGS.filter((flag) => flag !== "--disable-quic") : FLAGS;
  return chromium.launch({ executablePath: options.chromium, args, headless: true });
}

function report(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

const lines = readline.createInterface({ input: process.stdin });
const waiting = [];
const queued = [];
lines.on("line", (line) => {
  const command = JSON.parse(line);
  const next = waiting.shift();
  if (next) next(command);
  else queued.push(command);
});

// The next command from the test (a JSON line on stdin).
function command() {
  if (queued.length) return Promise.resolve(queued.shift());
  return new Promise((resolve) => waiting.push(resolve));
}

// Run main(options) and exit; any error becomes an {"error": ...} line.
function run(main) {
  const options = JSON.parse(process.argv[2] || "{}");
  main(options).then(
    () => process.exit(0),
    (err) => {
      report({ error: String((err && err.stack) || err) });
      process.exit(1);
    },
  );
}

module.exports = { launch, report, command, run };
