// Hostile senders against the collector's sessions and its own records (issue 21, items 4-5):
// one origin cannot take every session slot, a session with no data still pays for its
// `!open`/`!close` under the origin's quota, a flood of refusals cannot grow `_logward`, and
// `_logward` has a bounded retention that never touches `_logward/deletions`.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Store } from "../src/store/store.ts";
import { encodeHello } from "../src/wire/agent.ts";
import { ingest, rawSession, serve } from "./helpers/daemon.ts";
import { duBytes, endOf } from "./helpers/hostile.ts";
import { readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `fn(i)` for i in [0, n) with at most `width` at a time. */
async function pool(n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

const notes = async (store: string, stream: string) =>
  (await readAll(store, "_logward", stream)).map((r) => r.payload.toString());

/** How many refusals an events record stands for: 1, or its `repeated=` count. */
const weight = (e: string) => Number(/ repeated=(\d+)/.exec(e)?.[1] ?? 1);

describe("hostile sessions", { timeout: 120_000 }, () => {
  test("20 empty sessions from one VM cannot take every slot from another VM", async () => {
    const store = tempDir();
    const d = await serve(store, `[collector]\nmax_sessions = 20\n`);
    const path = join(store, "run", "ingest.sock");
    const hog = Array.from({ length: 20 }, () => rawSession(path, "logward-relay 1 lines hog main\n", true));
    try {
      await sleep(500);
      const other = await ingest(store, "lines", "still heard\n", { QREXEC_REMOTE_DOMAIN: "other" });
      assert.equal(other.code, 0, other.stderr);
      assert.deepEqual(
        (await readAll(store, "other", "main"))
          .filter((r) => r.kind === ".")
          .map((r) => r.payload.toString()),
        ["still heard"],
      );
      // the hog's sessions over its cap got one clear answer; so does its next ingest
      const again = await ingest(store, "lines", "more\n", { QREXEC_REMOTE_DOMAIN: "hog" });
      assert.equal(again.code, 1);
      assert.match(
        again.stderr,
        /^logward: The collector ended the session: too many sessions from origin hog \(limit 16 per origin\)\.\n$/,
      );
    } finally {
      for (const h of hog) h.socket.destroy();
      await d.stop();
    }
    const refused = (await readAll(store, "hog", "main")).length;
    assert.ok(refused <= 2 * 16 + 2, "only the sessions within the cap were opened");
    const events = await notes(store, "events");
    const hogRefusals = events.filter((e) => /event=refused .*origin=hog .*kind=origin-sessions/.test(e));
    assert.equal(
      hogRefusals.map(weight).reduce((a, b) => a + b, 0),
      4 + 1,
    );
  });

  test("3000 empty calls against a 64 KiB quota: evicted and alerted while they come", async (t) => {
    const store = tempDir();
    const d = await serve(
      store,
      `[store]\nsegment_size = "64KiB"\n[[policy]]\nmatch = "flood"\nquota = "64KiB"\n`,
    );
    const path = join(store, "run", "ingest.sock");
    let ok = 0;
    try {
      await pool(3000, 8, async () => {
        const end = endOf(await rawSession(path, "logward-relay 1 lines flood main\n").done);
        if (end.ok) ok++;
      });
      assert.equal(ok, 3000);
      // while the collector runs: the collector's own records are policed like the sender's
      let alerts: string[] = [];
      for (let k = 0; k < 30; k++) {
        alerts = await notes(store, "alerts");
        if (alerts.some((a) => /alert=evicted origin=flood/.test(a))) break;
        await sleep(100);
      }
      assert.ok(
        alerts.some((a) => /alert=quota-reached origin=flood/.test(a)),
        alerts.join("\n"),
      );
      assert.ok(
        alerts.some((a) => /alert=evicted origin=flood/.test(a)),
        alerts.join("\n"),
      );
      const used = duBytes(join(store, "origins", "flood"));
      assert.ok(used <= 64 * 1024 + 64 * 1024, `flood holds ${used} bytes, within quota + one segment`);
      t.diagnostic(`flood holds ${used} bytes on disk after 3000 empty calls`);
    } finally {
      await d.stop();
    }
    const recs = await readAll(store, "flood", "main");
    assert.ok(recs.some((r) => r.kind === "!evict" && /reason=quota/.test(r.payload.toString())));
  });

  test("a flood of bad hellos grows _logward/events by a bounded amount, and every refusal is counted", async (t) => {
    const store = tempDir();
    const d = await serve(store);
    const path = join(store, "run", "ingest.sock");
    let before = 0;
    const answers: { ok: boolean; message: string }[] = [];
    try {
      before = (await notes(store, "events")).length;
      // bad relay headers: hostile bytes where the format should be
      await pool(1000, 16, async (i) => {
        answers.push(endOf(await rawSession(path, `logward-relay 1 bogus\x1b[${i}m evil main\n`).done));
      });
      // agent sessions whose hello names another stream: each one a protocol error
      await pool(500, 8, async () => {
        const hello = encodeHello({ stream: "other", spool: "0123456789abcdef0123456789abcdef" });
        await rawSession(path, Buffer.concat([Buffer.from("logward-relay 1 agent evil app\n"), hello])).done;
      });
    } finally {
      await d.stop();
    }
    assert.equal(answers.length, 1000);
    assert.ok(
      answers.every((a) => !a.ok && /^unknown format /.test(a.message)),
      "each sender got its answer",
    );
    const events = (await notes(store, "events")).slice(before);
    t.diagnostic(`1500 refused or failed sessions: ${events.length} records in _logward/events`);
    assert.ok(events.length <= 12, `events grew by ${events.length} records:\n${events.join("\n")}`);
    const bad = events.filter((e) => /event=refused .*kind=bad-header/.test(e));
    assert.equal(
      bad.map(weight).reduce((a, b) => a + b, 0),
      1000,
    );
    const errs = events.filter((e) => /event=session-error .*origin=evil/.test(e));
    assert.equal(
      errs.map(weight).reduce((a, b) => a + b, 0),
      500,
    );
    // the evil origin's own stream holds the session records, under its quota
    assert.equal((await readAll(store, "evil", "app")).filter((r) => r.kind === "!close").length, 500);
  });

  test("a flood of refused objects raises one blob-refused alert a minute per origin, with the count", async () => {
    const store = tempDir();
    const d = await serve(store, `[store]\nmax_blob = "1B"\n`);
    const path = join(store, "run", "ingest.sock");
    const data = Buffer.from([0x44, 0, 0, 0, 2, 0x61, 0x62]); // D: 2 bytes, over max_blob
    const end = Buffer.from([0x45, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 2]);
    const answers: { ok: boolean; message: string }[] = [];
    try {
      await pool(200, 8, async () => {
        const call = Buffer.concat([Buffer.from("logward-relay 1 blob evil pcap\n"), data, end]);
        answers.push(endOf(await rawSession(path, call).done));
      });
    } finally {
      await d.stop();
    }
    assert.ok(
      answers.every((a) => !a.ok && /larger than max_blob/.test(a.message)),
      "each sender told why",
    );
    const refused = (await notes(store, "alerts")).filter((a) => /alert=blob-refused origin=evil/.test(a));
    assert.ok(refused.length <= 2, refused.join("\n"));
    assert.match(refused.at(-1)!, /and 199 more like it/);
  });

  test("_logward keeps a bounded retention: old and excess events and alerts go, deletions stay", async () => {
    const dir = tempDir();
    const store = join(dir, "store");
    const old = 1_700_000_000_000_000; // 2023: older than any retention
    const pad = randomBytes(450).toString("hex"); // does not compress away
    {
      const s = await Store.open(store, { maxSegmentBytes: 64 * 1024, clock: () => old });
      const events = await s.stream("_logward", "events");
      const deletions = await s.stream("_logward", "deletions");
      for (let i = 0; i < 300; i++) {
        events.appendCollector("note", `event=old n=${i} pad=${pad}`);
        deletions.appendCollector("note", `deleted n=${i} pad=${pad}`);
      }
      await s.close();
    }
    {
      // recent alerts, too many of them: the size bound takes the oldest
      const s = await Store.open(store, { maxSegmentBytes: 64 * 1024 });
      const alerts = await s.stream("_logward", "alerts");
      for (let i = 0; i < 300; i++) alerts.appendCollector("note", `alert=reload message="old ${i} ${pad}"`);
      await s.close();
    }
    const d = await serve(
      store,
      `[store]\nsegment_size = "64KiB"\n[collector]\nown_retention = "30d"\nown_quota = "64KiB"\ndeletions_warn = "64KiB"\n`,
    );
    try {
      await sleep(300);
    } finally {
      await d.stop();
    }
    const events = await readAll(store, "_logward", "events");
    assert.ok(!events.some((r) => /event=old n=0 /.test(r.payload.toString())), "the oldest events went");
    assert.ok(events.some((r) => r.kind === "!evict" && /reason=retention/.test(r.payload.toString())));
    const alerts = (await notes(store, "alerts")).join("\n");
    assert.ok(!/old 0 /.test(alerts), "the oldest alerts went");
    assert.ok(/old 299 /.test(alerts), "the newest alerts stay");
    assert.ok(duBytes(join(store, "origins", "_logward", "alerts")) <= 2 * 64 * 1024 + 4096);
    const deletions = (await readAll(store, "_logward", "deletions")).filter((r) => r.kind === "!note");
    assert.equal(deletions.length, 300, "the trail of deletions is never trimmed");
    assert.match(alerts, /alert=quota-near origin=_logward .*deletions/);
  });
});
