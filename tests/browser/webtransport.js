// The official socket.io client in headless Chromium over WebTransport (HTTP/3), driven line by line.
//
// Options: url (the HTTP origin pages load from), bundle (the client bundle's path). Commands:
//   {"op": "open", "page": NAME}                      a page on url with the client bundle loaded
//   {"op": "eval", "page": NAME, "code": BODY}        run BODY as an async function in the page;
//                                                     reports {"result": its return value}
//   {"op": "close", "page": NAME}
// Every answer is one JSON line; a failing command reports {"error": ...} and the script goes on.
"use strict";

const { launch, report, command, run } = require("./launch");

run(async (o) => {
  const browser = await launch({ ...o, quic: true });
  const pages = new Map();
  try {
    for (;;) {
      const c = await command();
      if (c.op === "quit") break;
      try {
        if (c.op === "open") {
          const context = await browser.newContext();
          const page = await context.newPage();
          page.on("console", (m) => process.stderr.write(`[${c.page}] ${m.text()}\n`));
          await page.goto(`${o.url}/blank`);
          await page.addScriptTag({ path: o.bundle });
          pages.set(c.page, page);
          report({ result: true });
        } else if (c.op === "eval") {
          const page = pages.get(c.page);
          const result = await page.evaluate(`(async () => { ${c.code} })()`);
          report({ result: result === undefined ? null : result });
        } else if (c.op === "close") {
          const page = pages.get(c.page);
          pages.delete(c.page);
          await page.context().close();
          report({ result: true });
        } else {
          report({ failed: `unknown op ${c.op}` });
        }
      } catch (err) {
        report({ failed: String((err && err.message) || err) });
      }
    }
  } finally {
    await browser.close();
  }
});
