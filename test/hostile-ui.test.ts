// Hostile probes of the web UI (issue 21): idle connections must not lock the person out, the
// token stays out of the journal, and a catastrophic regex search must not stop ingestion.

import assert from "node:assert/strict";
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { type Daemon, ingest, serve, uiLogin } from "./helpers/daemon.ts";
import { tempDir } from "./helpers/tmp.ts";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function ask(url: string, headers: Record<string, string> = {}, timeoutMs = 20_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Connection: "close", ...headers }, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from ${url} in ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

async function session(login: string): Promise<{ base: string; cookie: string }> {
  const r = await ask(login);
  assert.equal(r.status, 303);
  return { base: new URL(login).origin, cookie: String(r.headers["set-cookie"]).split(";")[0]! };
}

describe("web UI under idle connections", () => {
  const store = join(tempDir(), "store");
  let d: Daemon | undefined;
  const idle: Socket[] = [];
  after(async () => {
    for (const s of idle) s.destroy();
    await d?.stop();
  });

  test("serve does not print the token when stdout is not a terminal; run/ui-url holds it", async () => {
    d = await serve(store);
    const login = uiLogin(store);
    assert.match(login, /^http:\/\/127\.0\.0\.1:\d+\/login\?token=[A-Za-z0-9_-]{32}$/);
    assert.doesNotMatch(d.out(), /token=/);
    const port = new URL(login).port;
    assert.ok(
      d.out().includes(`web UI at http://127.0.0.1:${port}/ (token in ${join(store, "run", "ui-url")})`),
      d.out(),
    );
  });

  test("200 idle TCP connections do not stop an authenticated request from being answered", async () => {
    const login = uiLogin(store);
    const { base, cookie } = await session(login);
    const port = Number(new URL(base).port);
    for (let i = 0; i < 200; i++) {
      const s = connect({ port, host: "127.0.0.1" });
      s.on("error", () => {});
      idle.push(s);
      await new Promise<void>((r) => {
        s.once("connect", () => r());
        s.once("close", () => r());
      });
    }
    // a slowloris half: some of them also send a partial request line and stop
    for (const s of idle.slice(0, 50)) s.write("GET /api/origins HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    const r = await ask(`${base}/api/origins`, { Cookie: cookie }, 8_000);
    assert.equal(r.status, 200, r.body);
    assert.ok(Array.isArray((JSON.parse(r.body) as { streams: unknown[] }).streams));
    // and a fresh login (a new browser session) still works too
    const again = await ask(login, {}, 8_000);
    assert.equal(again.status, 303);
  });
});

describe("web UI search under a catastrophic regular expression", () => {
  const store = join(tempDir(), "store");
  let d: Daemon | undefined;
  after(() => {
    d?.proc.kill("SIGKILL"); // a collector stuck in a regex would not hear SIGTERM
  });

  test("another origin's ingest completes while the search runs; the budget cuts it", {
    timeout: 60_000,
  }, async () => {
    d = await serve(store, `[ui]\nsearch_timeout = "3s"\n`);
    const hostile = `${"a".repeat(40)}!\n`;
    assert.equal((await ingest(store, "lines", hostile, { QREXEC_REMOTE_DOMAIN: "evil" })).code, 0);
    const { base, cookie } = await session(uiLogin(store));
    let searched: Answer | null = null;
    const search = ask(
      `${base}/api/search?q=${encodeURIComponent("^(a+)+$")}&regex=1`,
      { Cookie: cookie },
      50_000,
    ).then((a) => {
      searched = a;
      return a;
    });
    await new Promise((r) => setTimeout(r, 500)); // the search has started
    const other = await ingest(store, "lines", "hello while searching\n", { QREXEC_REMOTE_DOMAIN: "work" });
    assert.equal(other.code, 0, other.stderr);
    // the ingest was confirmed durable while the search ran, or after the budget cut it
    const before = searched as Answer | null;
    if (before !== null)
      assert.equal((JSON.parse(before.body) as { error: { code: string } }).error.code, "LW_SEARCH_TIMEOUT");
    const a = await search;
    assert.equal(a.status, 503, a.body);
    const err = (JSON.parse(a.body) as { error: { code: string; message: string } }).error;
    assert.equal(err.code, "LW_SEARCH_TIMEOUT");
    assert.match(err.message, /3 s/);
    // the collector still answers searches, and stored what came in meanwhile
    const found = await ask(`${base}/api/search?q=while`, { Cookie: cookie });
    assert.equal(found.status, 200, found.body);
    const hits = (JSON.parse(found.body) as { hits: { origin: string; payload: string }[] }).hits;
    assert.deepEqual(
      hits.map((h) => [h.origin, h.payload]),
      [["work", "hello while searching"]],
    );
    const bad = await ask(`${base}/api/search?q=${encodeURIComponent("(")}&regex=1`, { Cookie: cookie });
    assert.equal((JSON.parse(bad.body) as { error: { code: string } }).error.code, "LW_BAD_REGEX");
  });
});
