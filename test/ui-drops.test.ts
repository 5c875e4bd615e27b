/// <reference lib="dom" />
// The web UI shows what the collector dropped or refused (issue 17): the origins table's
// Dropped column and the `dropped` alert in the alerts view, in Debian's chromium driven by
// playwright-core (as test/ui-browser.test.ts), against a real `serve` that refused a TCP
// connection over max_sessions_per_origin.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { test } from "node:test";
import { chromium } from "playwright-core";
import { logward } from "./helpers/cli.ts";
import { serve, uiLogin } from "./helpers/daemon.ts";
import { freePort, storedMessages } from "./helpers/syslog-peers.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

const CHROMIUM = "/usr/bin/chromium";

test("the origins table shows an origin's drops and the alerts view its dropped alert", {
  timeout: 90_000,
}, async () => {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: install Debian's chromium (scripts/install-chromium.sh).`,
  );
  const store = tempDir();
  const port = await freePort();
  const d = await serve(
    store,
    `[collector]\nmax_sessions_per_origin = 1\n[[listen]]\ntransport = "tcp"\naddress = "127.0.0.1:${port}"\norigin = "address"\n`,
  );
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
  try {
    const held = connect(port, "127.0.0.1");
    held.write("<13>1 - - app - - - held\n");
    await until("the held one stored", async () => (await storedMessages(store, "127.0.0.1")).length === 1);
    const extra = connect(port, "127.0.0.1");
    extra.on("error", () => {});
    await new Promise((r) => extra.once("close", r));
    held.end();
    await until(
      "the dropped alert stored",
      async () => (await logward(["alerts", "--store", store])).stdout.toString().includes("dropped"),
      { ms: 20_000, everyMs: 200 },
    );
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(uiLogin(store));
    await page.waitForSelector('tr[data-stream="127.0.0.1/syslog"]');
    assert.equal(
      await page.locator('tr[data-stream="127.0.0.1/syslog"] [data-col="drops"]').innerText(),
      "1",
    );
    assert.equal(await page.locator('tr[data-stream="_logward/events"] [data-col="drops"]').innerText(), "0");
    await page.goto(`${page.url().split("#")[0]}#/alerts`);
    await page.waitForSelector("main h1:text('Alerts')");
    assert.match(
      await page.locator("main table").innerText(),
      /dropped\s+127\.0\.0\.1\s+1 dropped or refused/,
    );
  } finally {
    await browser.close();
    assert.equal(await d.stop(), 0);
  }
});
