/// <reference lib="dom" />
// The web UI end to end in a real browser: Debian's chromium (installed by npm test's pretest,
// scripts/install-chromium.sh) driven by playwright-core. A real `logward serve`, records sent
// through the real `logward ingest`, hostile content among them. Screenshots of every page go
// to test-output/ui/.

import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { logward } from "./helpers/cli.ts";
import { type Daemon, ingest, serve, uiLogin } from "./helpers/daemon.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

const CHROMIUM = "/usr/bin/chromium";

const SHOTS = join(import.meta.dirname, "..", "test-output", "ui");

// each would run if the page ever parsed content as markup or followed it as a link
const HOSTILE = [
  "<script>window.__pwned = 'script'</script>",
  `<img src=x onerror="window.__pwned = 'img'">`,
  `<a href="javascript:window.__pwned='link'">click</a>`,
  "<svg onload=\"window.__pwned='svg'\"></svg>",
  "\x1b[2J\x1b]0;fake title\x07 ANSI and OSC",
  "\u202eevil bidi override\u202c and \u200b zero width",
  "<style>body{display:none}</style>",
];

describe("web UI in chromium", () => {
  const dir = tempDir();
  const store = join(dir, "store");
  const viewed = join(dir, "viewed");
  let d: Daemon;
  let browser: Browser;
  let page: Page;
  let base: string;
  const dialogs: string[] = [];
  const errors: string[] = [];

  const ls = async () =>
    JSON.parse((await logward(["ls", "--json", "--store", store])).stdout.toString()) as {
      origin: string;
      stream: string;
      records: number;
    }[];
  /**
   * Goes to a stream's page and waits for it, not for the page it replaces: a hash change
   * renders after a fetch, and until then the old view (and its buttons) is still there.
   */
  const streamView = async (origin: string, stream: string) => {
    await page.goto(`${base}/#/stream/${origin}/${stream}`);
    await page.waitForSelector(`main h1:text-is('${origin} / ${stream}')`);
    await page.waitForSelector("table.records tbody tr");
  };
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  before(async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} is missing: install Debian's chromium (npm test does it as root: scripts/install-chromium.sh).`,
    );
    mkdirSync(SHOTS, { recursive: true });
    // records up to 1 MiB, so that one line of 1 MB reaches the page whole
    // a stand-in viewer that keeps a copy of what it was given, and where
    const viewer = `["sh", "-c", "cp \\"$0\\" ${viewed}.copy && printf %s \\"$0\\" > ${viewed}.path", "{file}"]`;
    // a small quota for disposables, so that the 1 MB line raises a quota alert
    d = await serve(
      store,
      `[collector]\nmax_record = "1MiB"\n[viewers]\ndefault = ${viewer}\n[[policy]]\nmatch = "disp*"\nquota = "512KiB"\n`,
    );
    base = new URL(uiLogin(store)).origin;
    await ingest(store, "lines", `first NEEDLE line\n${HOSTILE.join("\n")}\nlast line\n`, {
      QREXEC_REMOTE_DOMAIN: "work",
    });
    await ingest(store, "lines", `${"W".repeat(1024 * 1024 - 16)}\n`, {
      QREXEC_REMOTE_DOMAIN: "disp4711",
      QREXEC_SERVICE_ARGUMENT: "big",
    });
    await ingest(store, "lines", "to be deleted\n".repeat(3), { QREXEC_REMOTE_DOMAIN: "scratch" });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on("dialog", (dlg) => {
      dialogs.push(dlg.message());
      void dlg.dismiss();
    });
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
  });

  after(async () => {
    await browser?.close();
    await d?.stop();
  });

  test("without the token the page says what to do and shows nothing of the store", async () => {
    await page.goto(`${base}/`);
    assert.match(await page.locator("body").innerText(), /Open the address that 'logward serve' printed/);
    assert.doesNotMatch(await page.content(), /NEEDLE|work/);
    await shot("0-refused");
    errors.length = 0; // the refused page load itself logs a 401
  });

  test("origins: every stream with the counts ls gives", async () => {
    await page.goto(uiLogin(store));
    await page.waitForSelector("table.origins tbody tr[data-stream]");
    const shown = await page.$$eval("table.origins tbody tr[data-stream]", (rows) =>
      rows.map((r) => [
        r.getAttribute("data-stream"),
        Number(r.querySelector('[data-col="records"]')!.textContent!.replace(/\D/g, "")),
      ]),
    );
    const want = (await ls()).map((r) => [`${r.origin}/${r.stream}`, r.records]);
    assert.deepEqual([...shown].sort(), [...want].sort());
    // the default policy gives every origin 1 GiB: its use is a bar
    assert.match(await page.locator('tr[data-stream="work/main"]').innerText(), /0% of 1\.0 GiB/);
    assert.equal(await page.locator('tr[data-stream="work/main"] .bar').count(), 1);
    assert.equal(await page.locator('tr[data-stream="_logward/events"] button.danger').count(), 0);
    await shot("1-origins");
    // sorting by records puts the largest first
    await page.click('th button:text("Records")');
    const first = await page.$eval("table.origins tbody tr[data-stream]", (r) =>
      r.getAttribute("data-stream"),
    );
    const max = (await ls()).sort((a, b) => b.records - a.records)[0]!;
    assert.equal(first, `${max.origin}/${max.stream}`);
  });

  test("origins: the table fits a 1280x800 window, Actions and whole names included", async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(`${base}/#/`);
    await page.waitForSelector("table.origins tbody tr[data-stream]");
    const fit = await page.evaluate(() => {
      const table = document.querySelector("table.origins")!;
      // a name on more than one line was broken (the test's names hold no '-' or '.')
      const lines = (cell: Element) => {
        const range = document.createRange();
        range.selectNodeContents(cell);
        return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
      };
      return {
        table: table.scrollWidth,
        panel: table.parentElement!.clientWidth,
        actionsRight: Math.max(
          ...[...table.querySelectorAll("th.actions, td.actions > *")].map(
            (e) => e.getBoundingClientRect().right,
          ),
        ),
        window: window.innerWidth,
        broken: [...table.querySelectorAll("tbody td.name")]
          .filter((td) => lines(td) > 1)
          .map((td) => td.textContent),
      };
    });
    assert.ok(fit.table <= fit.panel, `the table is ${fit.table}px wide in a ${fit.panel}px panel`);
    assert.ok(
      fit.actionsRight <= fit.window,
      `the Actions column ends at ${fit.actionsRight}px, past the ${fit.window}px window`,
    );
    assert.deepEqual(fit.broken, [], "no origin or stream name is broken across lines");
    await shot("1-origins-1280x800");
  });

  test("hostile records render as inert, visible text and the long line does not break the layout", async () => {
    await streamView("work", "main");
    const text = await page.locator("table.records").innerText();
    for (const visible of [
      "<script>window.__pwned = 'script'</script>",
      `<img src=x onerror="window.__pwned = 'img'">`,
      "\\x1b[2J\\x1b]0;fake title\\x07 ANSI and OSC",
      "\\u202eevil bidi override\\u202c",
      "<style>body{display:none}</style>",
    ]) {
      assert.ok(text.includes(visible), `shown as text: ${visible}`);
    }
    const created = await page.evaluate(() => ({
      pwned: (window as unknown as { __pwned?: string }).__pwned ?? null,
      elements: document.querySelectorAll("main img, main script, main svg, main style, main iframe").length,
      jsLinks: document.querySelectorAll('a[href^="javascript"]').length,
      title: document.title,
    }));
    assert.deepEqual(created, { pwned: null, elements: 0, jsLinks: 0, title: "work/main · logward" });
    await shot("2-stream-hostile");

    await streamView("disp4711", "big");
    const layout = await page.evaluate(() => ({
      overflow: document.documentElement.scrollWidth - window.innerWidth,
      cell: Math.max(...[...document.querySelectorAll("td.payload")].map((td) => td.textContent!.length)),
    }));
    assert.ok(layout.overflow <= 0, `the page is ${layout.overflow}px wider than the window`);
    assert.ok(layout.cell < 3000, "a 1 MB line is shown cut, with a button for the rest");
    await page.click("button.more");
    const whole = await page.evaluate(() => ({
      overflow: document.documentElement.scrollWidth - window.innerWidth,
      cell: Math.max(...[...document.querySelectorAll("td.payload")].map((td) => td.textContent!.length)),
    }));
    assert.ok(whole.cell >= 1024 * 1024 - 16, `the whole line is there on request (${whole.cell})`);
    assert.ok(whole.overflow <= 0, "and it wraps inside the page");
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(SHOTS, "3-stream-long-line.png") });
  });

  test("live tail shows a record sent through logward ingest", async () => {
    await streamView("work", "main");
    await page.click("#live");
    await page.waitForSelector(".live-indicator:text('live')");
    await ingest(store, "lines", "LIVE-7f3a arrived <b>bold?</b>\n", { QREXEC_REMOTE_DOMAIN: "work" });
    await page.waitForSelector("td.payload:text('LIVE-7f3a arrived <b>bold?</b>')", { timeout: 10_000 });
    assert.equal(await page.locator("main b").count(), 0);
    await shot("4-live-tail");
    await page.click("#live"); // stop
  });

  test("a live tail started from a page that is being replaced does not outlive it", async () => {
    await streamView("disp4711", "big");
    // hold the next page's records, so that the old page (and its Live tail button) stays on
    // screen while the new one loads, as on a slow machine
    let release = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    const isRecords = (url: URL) => url.pathname === "/api/records";
    await page.route(isRecords, async (route) => {
      await held;
      await route.continue();
    });
    try {
      await page.goto(`${base}/#/stream/work/main`);
      await page.click("#live"); // the old page's button
      release();
      await page.waitForSelector("main h1:text-is('work / main')");
    } finally {
      release();
      await page.unroute(isRecords);
    }
    // the new page's button starts its own tail (it would stop the stray one instead)
    await page.click("#live");
    assert.equal(await page.getAttribute("#live", "aria-pressed"), "true");
    await page.click("#live");
    assert.equal(await page.getAttribute("#live", "aria-pressed"), "false");
  });

  test("search finds a token and links to its place in the stream", async () => {
    await page.goto(`${base}/#/search`);
    await page.fill("#q", "NEEDLE");
    await page.press("#q", "Enter");
    await page.waitForSelector("#hit-count");
    assert.match(await page.locator("#hit-count").innerText(), /^1 matching record,/);
    assert.equal(await page.locator("mark").innerText(), "NEEDLE");
    await shot("5-search");
    await page.click("table.records a");
    await page.waitForSelector("tr.highlight");
    assert.match(await page.locator("tr.highlight").innerText(), /first NEEDLE line/);
  });

  test("open in viewer hands the viewer a private copy of the escaped records, removed afterwards", async () => {
    await streamView("work", "main");
    await page.click("button:text('Open in viewer')");
    await page.waitForSelector("#status:text('Opened')");
    // "Opened" means the viewer started (a disposable viewer may stay open for long): wait for
    // the stand-in to have copied the file and written its path, its last step
    const path = `${viewed}.path`;
    await until("the viewer to run", () => existsSync(path) && readFileSync(path).length > 0, {
      ms: 5_000,
      everyMs: 20,
    });
    const copy = readFileSync(`${viewed}.copy`, "utf8");
    assert.match(copy, / \. <script>window\.__pwned = 'script'<\/script>\n/);
    assert.match(copy, /\\x1b\[2J/);
    assert.doesNotMatch(copy, /\x1b/, "no raw escape reaches the viewer");
    const given = readFileSync(path, "utf8");
    await until("the private file to be removed when the viewer exits", () => !existsSync(given), {
      ms: 5_000,
      everyMs: 20,
    });
  });

  test("delete asks first, names what goes, and is recorded", async () => {
    await page.goto(`${base}/#/`);
    await page.waitForSelector('tr[data-stream="scratch/main"]');
    await page.click('tr[data-stream="scratch/main"] button.danger');
    await page.waitForSelector("dialog[open]");
    assert.match(await page.locator("#confirm-text").innerText(), /Delete all 5 records of scratch\/main\?/);
    await shot("6-delete-confirm");
    await page.click('dialog button[value="cancel"]');
    await page.waitForSelector("#status:text('Nothing was deleted.')");
    assert.ok(
      (await ls()).some((r) => r.origin === "scratch"),
      "cancel keeps the stream",
    );

    await page.click('tr[data-stream="scratch/main"] button.danger');
    await page.click('dialog button[value="delete"]');
    await page.waitForSelector("#status:text('Deleted 5 records')");
    await page.waitForSelector('tr[data-stream="scratch/main"]', { state: "detached" });
    assert.ok(!(await ls()).some((r) => r.origin === "scratch"), "confirmed: the stream is gone");
    const trail = (await logward(["show", "_logward/deletions", "--store", store])).stdout.toString();
    assert.match(trail, /deleted=scratch\/main records=5 /);
    assert.match(trail, /by=web-ui/);
  });

  test("alerts: a banner on every page and a list; the origin over quota shows a full bar", async () => {
    // the collector writes the quota alert after the data is durable, and the page reads the
    // alerts once when it loads: wait for the alert first (a loaded machine can be slow)
    const deadline = Date.now() + 20_000;
    for (;;) {
      const r = await logward(["show", "_logward/alerts", "--store", store]);
      if (r.stdout.includes("disp4711")) break;
      if (Date.now() >= deadline) {
        // what the store holds, only now: each poll runs one command, not three
        const held = (await logward(["ls", "--store", store])).stdout.toString();
        assert.fail(
          `the collector never stored the quota alert for disp4711 (exit ${r.code}); the store holds:\n${held}`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    await page.goto(`${base}/#/`);
    await page.waitForSelector("#banner:not([hidden])");
    assert.match(await page.locator("#banner").innerText(), /alert.* in the last 24 hours.*disp4711/s);
    assert.match(await page.locator('tr[data-stream="disp4711/big"]').innerText(), /\d+% of 512\.0 KiB/);
    assert.equal(await page.locator('tr[data-stream="disp4711/big"] .bar.full').count(), 1);
    await page.goto(`${base}/#/alerts`);
    await page.waitForSelector("main h1:text('Alerts')");
    assert.match(await page.locator("main table").innerText(), /quota.*disp4711/s);
    await shot("7-alerts");
  });

  test("no dialog was opened and no script error happened on any page", () => {
    assert.deepEqual(dialogs, [], "no alert/confirm/prompt was ever opened by content");
    assert.deepEqual(errors, []);
  });
});
