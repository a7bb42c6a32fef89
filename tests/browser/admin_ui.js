// The official Socket.IO Admin UI, served by the server under test, in headless Chromium.
//
// Options: url (the server), username, password, socketId (a client connected to "/"),
// clients (how many Engine.IO clients the dashboard should count), room, screenshots (a directory
// or null). Reports one JSON line per step; waits for a command line before disconnecting the socket.
"use strict";

const path = require("path");
const { launch, report, command, run } = require("./launch");

run(async (o) => {
  const browser = await launch(o);
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const shot = async (name) => {
      if (o.screenshots) await page.screenshot({ path: path.join(o.screenshots, name) });
    };
    await page.goto(o.url + "/admin/");
    await page.getByLabel("Username").fill(o.username);
    await page.getByLabel("Password").fill(o.password);
    await page.getByRole("button", { name: "Connect" }).click();
    await page.getByText("connected", { exact: true }).first().waitFor();
    report({ step: "connected" });

    // The dashboard: the Clients card counts the Engine.IO clients by transport.
    const websocketRow = page.locator("tr", { hasText: "WebSocket" }).first();
    await page.waitForFunction(
      ([n]) => {
        const rows = [...document.querySelectorAll("tr")].filter((r) => r.innerText.includes("WebSocket"));
        return rows.length && rows[0].innerText.split("\n").map((s) => s.trim()).includes(String(n));
      },
      [o.clients],
    );
    report({ step: "dashboard", clients: (await websocketRow.innerText()).split(/\s+/) });
    await shot("admin-dashboard.png");

    // The sockets page lists the client.
    await page.getByText("Sockets", { exact: true }).first().click();
    const row = page.locator("tr", { hasText: o.socketId });
    await row.waitFor();
    report({ step: "sockets", row: (await row.innerText()).split(/\s+/).filter(Boolean) });
    await shot("admin-sockets.png");

    // Its details page: make it join an existing room from the UI (the field offers the rooms of
    // the namespace); the room shows in its list once the server reported the join.
    await page.getByText(o.socketId, { exact: true }).first().click();
    await page.getByLabel("Join a room").click();
    await page.getByRole("option", { name: o.room }).click();
    await page.locator("form", { has: page.getByLabel("Join a room") }).locator("button[type=submit]").click();
    await page.locator("tr", { hasText: o.room }).first().waitFor();
    report({ step: "joined", room: o.room });
    await shot("admin-socket.png");

    // Disconnect it from the UI when the test says so.
    await command();
    const socketStatus = page.locator("tr", { hasText: "Status" }).nth(1);
    await socketStatus.locator("button").click();
    await page.getByText("disconnected", { exact: true }).first().waitFor();
    report({ step: "disconnected" });
  } finally {
    await browser.close();
  }
});
