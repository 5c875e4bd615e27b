// The web UI's search over huge matching lines (issue 21, resources): the worker's hits were
// bounded only by count (1000), so 1000 hits of 1 MiB records made gigabytes in the worker and
// again in the answer. Hits are now bounded by bytes too (MAX_HIT_BYTES: the answer says
// `truncated`), and the worker runs under V8 resource limits; the UI answers meanwhile.

import assert from "node:assert/strict";
import { get } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MAX_HIT_BYTES } from "../src/ui/search-worker.ts";
import { type Daemon, ingest, serve } from "./helpers/daemon.ts";
import { tempDir } from "./helpers/tmp.ts";
import { uiSession } from "./helpers/ui-session.ts";

function uiGet(base: string, cookie: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(`${base}${path}`, { headers: { Cookie: cookie } }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString() }));
    }).on("error", reject);
  });
}

describe("web UI search over huge matching lines", () => {
  const store = join(tempDir("logward-bigsearch-"), "store");
  const LINE = 1024 * 1024 - 1; // the longest record max_record keeps whole, with its LF
  const LINES = 40; // 40 MiB of matches: more than MAX_HIT_BYTES, far less than 1000 hits
  let d: Daemon;

  before(async () => {
    d = await serve(store, '[collector]\nmax_record = "1MiB"\n');
    const line = `${"needle ".repeat(Math.floor(LINE / 7))}\n`;
    for (let sent = 0; sent < LINES; sent += 10) {
      const r = await ingest(store, "lines", line.repeat(10), { QREXEC_REMOTE_DOMAIN: "big" });
      assert.equal(r.code, 0, r.stderr);
    }
  });
  after(async () => {
    await d.stop();
  });

  test("a search matching 1 MiB lines stops at the byte budget, says truncated, and the UI answers meanwhile", async () => {
    const ui = await uiSession(store);
    const searching = uiGet(ui.base, ui.cookie, "/api/search?q=needle&limit=1000");
    const origins = await uiGet(ui.base, ui.cookie, "/api/origins");
    assert.equal(origins.status, 200, "the UI answers while the search runs");
    const r = await searching;
    assert.equal(r.status, 200, r.body.slice(0, 300));
    const json = JSON.parse(r.body) as { truncated: boolean; hits: unknown[] };
    assert.equal(json.truncated, true, "the answer says the hits were cut");
    assert.ok(json.hits.length >= 1 && json.hits.length < LINES, `${json.hits.length} hits`);
    assert.ok(r.body.length <= MAX_HIT_BYTES + 64 * 1024, `an answer of ${r.body.length} bytes`);
    // the worker's heap stayed within its limits: the collector is still up and searching
    const small = await uiGet(ui.base, ui.cookie, "/api/search?q=needle&limit=2");
    assert.equal(small.status, 200);
    assert.equal((JSON.parse(small.body) as { hits: unknown[] }).hits.length, 2);
  });
});
