// The web UI's HTTP surface without a browser: who may ask (token, cookie, host, CSRF,
// origin), the security headers on every answer, and the JSON API against what `ls` says.

import assert from "node:assert/strict";
import { appendFileSync, readdirSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { logward } from "./helpers/cli.ts";
import { type Daemon, ingest, serve, uiLogin } from "./helpers/daemon.ts";
import { tempDir } from "./helpers/tmp.ts";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function ask(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? "GET", headers: opts.headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

describe("web UI over HTTP", () => {
  const store = join(tempDir(), "store");
  let d: Daemon;
  let base: string;
  let login: string;
  let cookie: string;
  let csrf: string;

  before(async () => {
    d = await serve(store);
    login = uiLogin(store);
    base = new URL(login).origin;
    await ingest(store, "lines", "one\n<script>alert(1)</script>\n\x1b]0;pwn\x07\n", {
      QREXEC_REMOTE_DOMAIN: "work",
    });
    await ingest(store, "lines", "a\nb\n", {
      QREXEC_REMOTE_DOMAIN: "personal",
      QREXEC_SERVICE_ARGUMENT: "app",
    });
  });
  after(async () => {
    await d.stop();
  });

  test("serve keeps the address with its token in run/ui-url (0600)", async () => {
    assert.match(login, /^http:\/\/127\.0\.0\.1:\d+\/login\?token=[A-Za-z0-9_-]{32}$/);
    const { readFileSync, statSync } = await import("node:fs");
    assert.equal(readFileSync(join(store, "run", "ui-url"), "utf8"), `${login}\n`);
    assert.equal(statSync(join(store, "run", "ui-url")).mode & 0o777, 0o600);
  });

  test("without the token nothing is served but the refusal; a wrong token is refused", async () => {
    for (const path of ["/", "/app.js", "/api/origins", "/api/records?origin=work&stream=main"]) {
      const r = await ask(base + path);
      assert.equal(r.status, 401, path);
      assert.doesNotMatch(r.body, /<script|one|alert/, path);
    }
    const api = await ask(`${base}/api/origins`);
    assert.equal((JSON.parse(api.body) as { error: { code: string } }).error.code, "LW_UI_TOKEN");
    const wrong = await ask(`${base}/login?token=${"A".repeat(32)}`);
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers["set-cookie"], undefined);
  });

  test("the token opens an HttpOnly SameSite=Strict session; the session gives the CSRF token", async () => {
    const r = await ask(login);
    assert.equal(r.status, 303);
    assert.equal(r.headers.location, "/");
    const set = String(r.headers["set-cookie"]);
    assert.match(set, /HttpOnly/);
    assert.match(set, /SameSite=Strict/);
    cookie = set.split(";")[0]!;
    const s = await ask(`${base}/api/session`, { headers: { Cookie: cookie } });
    assert.equal(s.status, 200);
    csrf = (JSON.parse(s.body) as { csrf: string }).csrf;
    assert.match(csrf, /^[A-Za-z0-9_-]{32}$/);
  });

  test("every answer carries the strict CSP, nosniff and no framing", async () => {
    for (const path of ["/", "/app.js", "/api/origins", "/nothing", "/login"]) {
      const r = await ask(base + path, { headers: { Cookie: cookie } });
      const csp = String(r.headers["content-security-policy"]);
      assert.match(csp, /default-src 'self'/, path);
      assert.match(csp, /script-src 'self'(;|$)/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, path);
      assert.equal(r.headers["x-content-type-options"], "nosniff", path);
      assert.equal(r.headers["x-frame-options"], "DENY", path);
    }
    const page = await ask(`${base}/`, { headers: { Cookie: cookie } });
    assert.equal(page.status, 200);
    assert.doesNotMatch(page.body, /<script>|\son[a-z]+=|\sstyle=/, "no inline script, handler or style");
  });

  test("another Host (DNS rebinding) is refused, even with the session", async () => {
    const r = await ask(`${base}/api/origins`, { headers: { Cookie: cookie, Host: "evil.example" } });
    assert.equal(r.status, 421);
    assert.doesNotMatch(r.body, /work/);
  });

  test("actions need POST, the CSRF token and a same-origin Origin", async () => {
    const body = JSON.stringify({ origin: "personal", stream: "app" });
    const json = { Cookie: cookie, "Content-Type": "application/json" };
    const noToken = await ask(`${base}/api/rm`, { method: "POST", headers: json, body });
    assert.equal(noToken.status, 403);
    const otherSite = await ask(`${base}/api/rm`, {
      method: "POST",
      headers: { ...json, "X-CSRF-Token": csrf, Origin: "http://evil.example" },
      body,
    });
    assert.equal(otherSite.status, 403);
    const get = await ask(`${base}/api/rm?origin=personal&stream=app`, { headers: { Cookie: cookie } });
    assert.equal(get.status, 404);
    const put = await ask(`${base}/api/rm`, {
      method: "PUT",
      headers: { ...json, "X-CSRF-Token": csrf },
      body,
    });
    assert.equal(put.status, 405);
    const ls = JSON.parse((await logward(["ls", "--json", "--store", store])).stdout.toString()) as {
      origin: string;
    }[];
    assert.ok(
      ls.some((r) => r.origin === "personal"),
      "nothing was deleted by the refused requests",
    );
  });

  test("the API: origins as ls counts them, records escaped, hostile names refused", async () => {
    const h = { headers: { Cookie: cookie } };
    const o = JSON.parse((await ask(`${base}/api/origins`, h)).body) as {
      streams: { origin: string; stream: string; records: number; live: boolean }[];
    };
    const ls = JSON.parse((await logward(["ls", "--json", "--store", store])).stdout.toString()) as {
      origin: string;
      stream: string;
      records: number;
    }[];
    assert.deepEqual(
      o.streams.map((s) => [s.origin, s.stream, s.records]),
      ls.map((s) => [s.origin, s.stream, s.records]),
    );
    const rec = JSON.parse((await ask(`${base}/api/records?origin=work&stream=main`, h)).body) as {
      records: { kind: string; payload: string }[];
    };
    const data = rec.records.filter((r) => r.kind === "data").map((r) => r.payload);
    assert.deepEqual(data, ["one", "<script>alert(1)</script>", "\\x1b]0;pwn\\x07"]);
    for (const bad of ["..%2F..%2Fetc", "a%2Fb", "%00", "x".repeat(300)]) {
      const r = await ask(`${base}/api/records?origin=${bad}&stream=main`, h);
      assert.equal(r.status, 400, bad);
      assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, "LW_BAD_NAME");
    }
    const paged = JSON.parse(
      (await ask(`${base}/api/records?origin=work&stream=main&from=2&limit=2`, h)).body,
    ) as {
      records: { seq: number }[];
      more: boolean;
    };
    assert.deepEqual(
      paged.records.map((r) => r.seq),
      [2, 3],
    );
    assert.equal(paged.more, true);
    const s = JSON.parse((await ask(`${base}/api/search?q=script`, h)).body) as {
      hits: { origin: string; seq: number }[];
    };
    assert.deepEqual(
      s.hits.map((x) => [x.origin, x.seq]),
      [["work", 3]],
    );
    const badRe = await ask(`${base}/api/search?q=(&regex=1`, h);
    assert.equal(badRe.status, 400);
    assert.equal((JSON.parse(badRe.body) as { error: { code: string } }).error.code, "LW_BAD_REGEX");
  });

  test("a stored line edited on disk to hold raw control bytes is escaped again, by the API and by show", async () => {
    await ingest(store, "lines", "clean\n", { QREXEC_REMOTE_DOMAIN: "edited" });
    const dir = join(store, "origins", "edited", "main");
    const file = join(dir, readdirSync(dir).find((f) => f.endsWith(".log"))!);
    const last = readFileSync(file, "latin1").trimEnd().split("\n").at(-1)!;
    const [time, seq] = last.split(" ");
    // someone with write access to the store put raw ESC and a bidi override in a new line
    appendFileSync(file, Buffer.from(`${time} ${Number(seq) + 1} . evil \x1b]0;x\x07 \u202e end\n`, "utf8"));
    const r = JSON.parse(
      (await ask(`${base}/api/records?origin=edited&stream=main`, { headers: { Cookie: cookie } })).body,
    ) as { records: { payload: string }[] };
    const payload = r.records.at(-1)!.payload;
    assert.doesNotMatch(payload, /[\x00-\x1f\u202e]/, "no raw control or bidi character in the API");
    assert.match(payload, /\\x1b\]0;x\\x07/);
    const shown = await logward(["show", "edited", "--store", store]);
    assert.doesNotMatch(shown.stdout.toString("latin1"), /\x1b/);
    assert.match(shown.stderr, /damaged|escaped/i);
  });
  // the last test: it stops the collector
  test("a live tail whose reader went away mid-catch-up is ended, and the collector still stops", async () => {
    // about 3 MB of records, more than the socket buffers hold while nobody reads
    await ingest(store, "lines", `${"f".repeat(150)}\n`.repeat(20_000), { QREXEC_REMOTE_DOMAIN: "flood" });
    const req = request(`${base}/api/tail?origin=flood&stream=main&after=0`, { headers: { Cookie: cookie } });
    const res = await new Promise<import("node:http").IncomingMessage>((resolve, reject) => {
      req.once("response", resolve);
      req.once("error", reject);
      req.end();
    });
    assert.equal(res.statusCode, 200);
    res.pause(); // the reader stops reading: the server's writes back up
    await new Promise((r) => setTimeout(r, 500));
    req.destroy(); // and goes away
    // readers that hang up before the answer has begun: the tail is still looking up its
    // streams when the connection closes, and must not miss that close
    for (let i = 0; i < 40; i++) {
      const early = request(`${base}/api/tail?origin=flood&stream=main`, { headers: { Cookie: cookie } });
      early.on("error", () => {});
      early.end();
      await new Promise((r) => setTimeout(r, i % 4));
      early.destroy();
    }
    await new Promise((r) => setTimeout(r, 200));
    const code = await Promise.race([
      d.stop(),
      new Promise<string>((r) => setTimeout(() => r("still running after 10 s"), 10_000).unref()),
    ]);
    if (code !== 0) d.proc.kill("SIGKILL"); // so that the suite ends
    assert.equal(code, 0, "the tail waiting for a drain that never comes kept serve alive");
  });
});
