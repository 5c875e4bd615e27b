// Load from hostile senders, all at once, against one `serve` (issue 21, "Resource limits and
// load"): 200 connections opened and left idle, 200 slowloris senders (100 dribbling their
// relay header, 100 dribbling records after it, a byte every two seconds), and one origin
// flooding at 50 times its quota. Meanwhile a victim origin sends its records, and every one
// must arrive; the web UI must answer an authenticated request within a few seconds. Loopback
// and Unix sockets only; bounded to about a minute.
import assert from "node:assert/strict";
import { request } from "node:http";
import type { Socket } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { rawSession, serve, uiLogin } from "./helpers/daemon.ts";
import { duBytes, endOf } from "./helpers/hostile.ts";
import { readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const QUOTA = 64 * 1024;
const SEGMENT = 64 * 1024;
const VICTIM_SESSIONS = 20;
const VICTIM_RECORDS = 100; // per session
const UI_BOUND_MS = 5_000;

function get(url: string, cookie: string, timeoutMs: number): Promise<{ status: number; ms: number }> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Cookie: cookie, Connection: "close" }, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: Date.now() - start }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from ${url} in ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

async function login(url: string): Promise<{ base: string; cookie: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      res.resume();
      assert.equal(res.statusCode, 303);
      resolve({ base: new URL(url).origin, cookie: String(res.headers["set-cookie"]).split(";")[0]! });
    });
    req.on("error", reject);
    req.end();
  });
}

test("idle, slowloris and a 50x flood at once: every victim record arrives, the UI answers", {
  timeout: 90_000,
}, async (t) => {
  const store = join(tempDir(), "store");
  const d = await serve(
    store,
    `[store]\nsegment_size = "64KiB"\n[[policy]]\nmatch = "flood"\nquota = "64KiB"\n`,
  );
  const path = join(store, "run", "ingest.sock");
  const sockets: Socket[] = [];
  let dribbling = true;
  try {
    const { base, cookie } = await login(uiLogin(store));

    // 200 connections opened and left idle: not even a header
    for (let i = 0; i < 200; i++) sockets.push(rawSession(path, "", true).socket);

    // 200 slowloris senders: half dribble the relay header, half dribble records after it
    const slow: { socket: Socket; left: Buffer }[] = [];
    for (let i = 0; i < 200; i++) {
      const header = `logward-relay 1 lines slow${i} main\n`;
      const { socket } = rawSession(path, i < 100 ? "" : header, true);
      sockets.push(socket);
      slow.push({ socket, left: Buffer.from(i < 100 ? header : "dribble\n".repeat(100)) });
    }
    const dribble = (async () => {
      while (dribbling) {
        for (const s of slow) {
          if (s.left.length === 0 || s.socket.destroyed) continue;
          s.socket.write(s.left.subarray(0, 1));
          s.left = s.left.subarray(1);
        }
        await sleep(2_000);
      }
    })();

    // one origin floods at 50 times its quota, over four sessions at once
    const line = `${"f".repeat(99)}\n`;
    const perSession = Buffer.from(line.repeat((50 * QUOTA) / 4 / line.length));
    const flood = Array.from(
      { length: 4 },
      () =>
        rawSession(path, Buffer.concat([Buffer.from("logward-relay 1 lines flood main\n"), perSession])).done,
    );

    // the victim sends its records, session after session, while all of that goes on
    const victim = (async () => {
      const ends: { ok: boolean; message: string }[] = [];
      for (let s = 0; s < VICTIM_SESSIONS; s++) {
        const lines = Array.from({ length: VICTIM_RECORDS }, (_, i) => `victim ${s} ${i}\n`).join("");
        ends.push(endOf(await rawSession(path, `logward-relay 1 lines victim main\n${lines}`).done));
        await sleep(400); // spread over the load: the slow senders dribble meanwhile
      }
      return ends;
    })();

    // the UI answers an authenticated request within the bound, more than once under load
    const answers: number[] = [];
    for (let k = 0; k < 5; k++) {
      await sleep(2_000);
      const r = await get(`${base}/api/origins`, cookie, UI_BOUND_MS);
      assert.equal(r.status, 200);
      answers.push(r.ms);
    }
    t.diagnostic(`UI answered in ${answers.join(", ")} ms under load`);

    const ends = await victim;
    // the connections that never sent a whole header were closed by the collector
    // (header_timeout, 10 s), each counted as a refusal; the dribbling sessions go on
    const headerless = [...sockets.slice(0, 200), ...slow.slice(0, 100).map((s) => s.socket)];
    for (let k = 0; k < 100 && headerless.some((s) => !s.closed); k++) await sleep(200);
    assert.equal(headerless.filter((s) => !s.closed).length, 0, "every headerless connection was closed");
    assert.ok(
      slow.slice(100).every((s) => !s.socket.closed),
      "the dribbling sessions were not cut",
    );
    assert.deepEqual(
      ends.filter((e) => !e.ok),
      [],
      "every victim session was acknowledged",
    );
    const floodEnds = (await Promise.all(flood)).map(endOf);
    t.diagnostic(`flood sessions: ${floodEnds.map((e) => (e.ok ? "ok" : e.message)).join("; ")}`);
    // backpressure, not an error: every flood session ends well, its oldest records evicted
    assert.deepEqual(
      floodEnds.filter((e) => !e.ok).map((e) => e.message),
      [],
    );

    // the collector still takes a new session after all of it
    const after = endOf(await rawSession(path, "logward-relay 1 lines victim late\nstill here\n").done);
    assert.ok(after.ok, after.message);
    const r = await get(`${base}/api/origins`, cookie, UI_BOUND_MS);
    assert.equal(r.status, 200);

    dribbling = false;
    await dribble;
    const used = duBytes(join(store, "origins", "flood"));
    t.diagnostic(`flood holds ${used} bytes on disk after sending ${50 * QUOTA}`);
    assert.ok(used <= QUOTA + 2 * SEGMENT, `flood holds ${used} bytes, within its quota and a segment`);
  } finally {
    dribbling = false;
    for (const s of sockets) s.destroy();
    await d.stop();
  }
  const victimRecords = (await readAll(store, "victim", "main")).filter((r) => r.kind === ".");
  assert.equal(victimRecords.length, VICTIM_SESSIONS * VICTIM_RECORDS, "every victim record arrived");
  const want = new Set<string>();
  for (let s = 0; s < VICTIM_SESSIONS; s++)
    for (let i = 0; i < VICTIM_RECORDS; i++) want.add(`victim ${s} ${i}`);
  for (const r of victimRecords) want.delete(r.payload.toString());
  assert.equal(want.size, 0, "each victim record once");
  const refusals = (await readAll(store, "_logward", "events"))
    .map((r) => r.payload.toString())
    .filter((e) => /event=refused .*kind=no-header/.test(e))
    .map((e) => Number(/ repeated=(\d+)/.exec(e)?.[1] ?? 1))
    .reduce((a, b) => a + b, 0);
  assert.ok(refusals >= 300, `${refusals} headerless connections recorded as refused`);
  const alerts = (await readAll(store, "_logward", "alerts")).map((r) => r.payload.toString());
  assert.ok(
    alerts.some((a) => /alert=quota-reached origin=flood/.test(a)),
    alerts.join("\n"),
  );
});
