// Opening an object in its viewer: `logward open ORIGIN/STREAM --seq N` and the web UI's
// POST /api/open {origin, stream, seq}. A stand-in viewer keeps a copy of the file it was given
// and its path, so the test sees the exact bytes and the file name (extension by type).
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import { request } from "node:http";
import { basename, join } from "node:path";
import { test } from "node:test";
import { logward } from "./helpers/cli.ts";
import { serve } from "./helpers/daemon.ts";
import { BSM, EVTX, ingestSamples, sha } from "./helpers/samples.ts";
import { tempDir } from "./helpers/tmp.ts";
import { uiSession } from "./helpers/ui-session.ts";
import { until } from "./helpers/until.ts";

/** A viewer command (TOML list) that copies `{file}` to `<out>.copy` and writes its path to `<out>.path`. */
function standIn(out: string): string {
  return `["sh", "-c", "cp \\"$0\\" ${out}.copy && printf %s \\"$0\\" > ${out}.path", "{file}"]`;
}

function post(
  url: string,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        text += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

test("open --seq and the web UI open an object with its type's viewer, in a file named .evtx/.bsm", async () => {
  const root = tempDir();
  const store = join(root, "store");
  const evtxOut = join(root, "evtx-viewed");
  const bsmOut = join(root, "bsm-viewed");
  const config = `[viewers]\nevtx = ${standIn(evtxOut)}\nbsm = ${standIn(bsmOut)}\ndefault = ["false", "{file}"]\n`;
  const configFile = join(root, "viewers.toml");
  const { writeFileSync } = await import("node:fs");
  writeFileSync(configFile, config);
  const d = await serve(store, config);
  try {
    await ingestSamples(store);

    // the CLI: the evtx viewer gets the exact bytes in win10-evtx-2.evtx; the file goes afterwards
    const r = await logward(["open", "win10/evtx", "--seq", "2", "--store", store, "--config", configFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha(readFileSync(`${evtxOut}.copy`)), sha(EVTX));
    const path = readFileSync(`${evtxOut}.path`, "utf8");
    assert.equal(basename(path), "win10-evtx-2.evtx");
    assert.equal(existsSync(path), false, "the private file is removed once the viewer exits");

    // a seq that is not an object: one sentence
    const notObject = await logward([
      "open",
      "win10/evtx",
      "--seq",
      "1",
      "--store",
      store,
      "--config",
      configFile,
    ]);
    assert.equal(notObject.code, 1);
    assert.match(notObject.stderr, /is not an object/);

    // the web UI: POST /api/open {origin, stream, seq}
    const { base, cookie, csrf } = await uiSession(store);
    const headers = {
      Cookie: cookie,
      "Content-Type": "application/json",
      "X-CSRF-Token": csrf,
      Origin: base,
    };
    const ans = await post(
      `${base}/api/open`,
      headers,
      JSON.stringify({ origin: "mac", stream: "audit", seq: 2 }),
    );
    assert.equal(ans.status, 200, ans.body);
    const body = JSON.parse(ans.body) as { object: { type: string; seq: number; sha256: string } };
    assert.deepEqual([body.object.type, body.object.seq, body.object.sha256], ["bsm", 2, sha(BSM)]);
    await until(
      "the bsm viewer",
      () => existsSync(`${bsmOut}.path`) && statSync(`${bsmOut}.copy`).size === BSM.length,
    );
    assert.equal(basename(readFileSync(`${bsmOut}.path`, "utf8")), "mac-audit-2.bsm");
    assert.equal(sha(readFileSync(`${bsmOut}.copy`)), sha(BSM));
    const bad = await post(
      `${base}/api/open`,
      headers,
      JSON.stringify({ origin: "mac", stream: "audit", seq: 1 }),
    );
    assert.notEqual(bad.status, 200);
    assert.match(bad.body, /LW_NOT_OBJECT/);
  } finally {
    await d.stop();
  }
});
