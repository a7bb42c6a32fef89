// The demo chat in headless Chromium: two browser contexts chat, share a file, watch the chart.
//
// Options: url, screenshots (a directory or null). Reports one JSON line per step.
"use strict";

const path = require("path");
const { launch, report, run } = require("./launch");

run(async (o) => {
  const browser = await launch(o);
  try {
    const open = async (name) => {
      const context = await browser.newContext({ viewport: { width: 1200, height: 640 } });
      const page = await context.newPage();
      await page.goto(`${o.url}/?name=${name}`);
      return page;
    };
    const alice = await open("alice");
    const bob = await open("bob");
    for (const page of [alice, bob]) {
      // the client starts on polling and upgrades to WebSocket
      await page.waitForFunction(() => window.demo.transports.includes("websocket"));
    }
    report({ step: "upgraded", transports: await alice.evaluate(() => window.demo.transports) });

    await alice.locator("#people li", { hasText: "bob" }).waitFor();
    report({ step: "presence", alice: await alice.locator("#people li").allInnerTexts(), bob: await bob.locator("#people li").allInnerTexts() });

    const chartBefore = await bob.evaluate(() => document.getElementById("chart").toDataURL());
    for (const line of ["hi bob", "how are you?", "files next"]) {
      await alice.fill("#text", line);
      await alice.press("#text", "Enter");
      await alice.waitForFunction((l) => window.demo.chats.some((c) => c[1] === l), line);
    }
    await bob.waitForFunction(() => window.demo.chats.length >= 3);
    report({ step: "chat", bob: await bob.evaluate(() => window.demo.chats) });

    const content = Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256));
    await alice.setInputFiles("#file", { name: "bytes.bin", mimeType: "application/octet-stream", buffer: content });
    await bob.waitForFunction(() => window.demo.files.length === 1);
    report({ step: "file", file: await bob.evaluate(() => window.demo.files[0]) });

    // the chart moves: a few seconds with different numbers of messages show on it
    for (const burst of [4, 7, 2]) {
      const seen = await bob.evaluate(() => window.demo.rates.length);
      for (let i = 0; i < burst; i++) {
        await alice.fill("#text", `message ${i + 1} of ${burst}`);
        await alice.press("#text", "Enter");
      }
      await bob.waitForFunction((n) => window.demo.rates.length > n, seen);
    }
    await bob.waitForFunction(() => window.demo.rates.some((r) => r > 0));
    const chartAfter = await bob.evaluate(() => document.getElementById("chart").toDataURL());
    if (o.screenshots) {
      await bob.screenshot({ path: path.join(o.screenshots, "demo-chat.png") });
    }
    report({ step: "chart", rates: await bob.evaluate(() => window.demo.rates), changed: chartBefore !== chartAfter });
  } finally {
    await browser.close();
  }
});
