// Faults (issue 21): a full disk at the steps of the store's life the other ENOSPC tests do not
// reach (test/enospc.test.ts: the flush; test/hostile-store-faults.test.ts: the seal's
// index.json by age): compressing a sealed segment (the .zst.tmp, its fsync, the index
// rewrite), the index rewrites of recovery and of eviction, a restart, a seal by size (the next
// segment), and sealing for tamper evidence (!seal records, the key's next step). Each on a
// small real tmpfs: nothing
// acknowledged is lost or damaged, nothing is left half-written, and the store finishes the
// step by itself once space returns.
import assert from "node:assert/strict";
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { streamSegments } from "../src/store/read.ts";
import { readIndex } from "../src/store/segment.ts";
import { Store } from "../src/store/store.ts";
import { logward } from "./helpers/cli.ts";
import { ingest, serve } from "./helpers/daemon.ts";
import { readAll } from "./helpers/store.ts";
import { fill, mountTmpfs } from "./helpers/tmpfs.ts";

const SEGMENT = 64 * 1024;
const NEEDS_TMPFS = "needs root and a tmpfs mount to make a small real filesystem";

/** The payloads of vm/main, in order, as the store gives them back. */
async function storedPayloads(root: string): Promise<string[]> {
  return (await readAll(root, "vm", "main")).map((r) => r.payload.toString());
}

/** Writes `n` records in sealed plain segments (no compression) and closes the store. */
async function plainSegments(root: string, n: number): Promise<string[]> {
  const store = await Store.open(root, { compress: false, maxSegmentBytes: SEGMENT });
  const w = await store.stream("vm", "main");
  const sent: string[] = [];
  for (let i = 1; i <= n; i++) {
    const text = `record ${i} ${"q".repeat(i % 300)}`;
    sent.push(text);
    w.appendRecords([Buffer.from(text)]);
  }
  await store.close();
  return sent;
}

async function until(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(100);
  }
  return check();
}

test("fault: ENOSPC while a sealed segment is compressed: the plain file stays, and it is compressed when space returns", {
  timeout: 60_000,
}, async (t) => {
  const mnt = mountTmpfs("2m", "logward-fault-zst-");
  if (!mnt) return t.skip(NEEDS_TMPFS);
  const root = join(mnt, "store");
  const sent = await plainSegments(root, 3000);
  const dir = join(root, "origins/vm/main");
  const filler = join(mnt, "filler");
  fill(filler);
  // opening the stream queues every sealed plain segment for compression, on a full disk
  const store = await Store.open(root, { maxSegmentBytes: SEGMENT });
  const warnings: Error[] = [];
  store.on("warning", (e: Error) => warnings.push(e));
  let failed: Error | null = null;
  store.on("fatal", (e: Error) => {
    failed = e;
  });
  try {
    const w = await store.stream("vm", "main");
    await sleep(1500);
    assert.equal(failed, null, "a full disk while compressing is not fatal");
    assert.ok(
      warnings.some((e) => /ENOSPC|disk is full/.test(`${e.message} ${(e.cause as Error)?.message}`)),
      `a warning names the full disk: ${warnings.map((e) => e.message).join("; ")}`,
    );
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith(".tmp")),
      [],
      "no half-written .zst.tmp is left",
    );
    assert.deepEqual(await storedPayloads(root), sent);
    rmSync(filler); // space returns: the store finishes the compression by itself
    const done = await until(
      async () =>
        (await streamSegments(root, "vm", "main")).filter((s) => !s.active).every((s) => s.compressed),
      20_000,
    );
    assert.ok(done, `every sealed segment compressed once space returned: ${readdirSync(dir).join(" ")}`);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith(".log")).length,
      1,
      "only the active segment is plain",
    );
    w.appendRecords([Buffer.from("after")]);
    await w.waitDurable();
  } finally {
    rmSync(filler, { force: true });
    await store.close();
  }
  assert.deepEqual(await storedPayloads(root), [...sent, "after"]);
});

test("fault: ENOSPC while recovery rewrites index.json: the stream opens once space returns, all there", {
  timeout: 60_000,
}, async (t) => {
  const mnt = mountTmpfs("2m", "logward-fault-reindex-");
  if (!mnt) return t.skip(NEEDS_TMPFS);
  const root = join(mnt, "store");
  const sent = await plainSegments(root, 2000);
  const dir = join(root, "origins/vm/main");
  // an index that lists none of the segments: recovery must describe them and rewrite it
  writeFileSync(join(dir, "index.json"), '{"format":1,"segments":[]}\n');
  const filler = join(mnt, "filler");
  fill(filler);
  const store = await Store.open(root, { maxSegmentBytes: SEGMENT, compress: false });
  try {
    await assert.rejects(store.stream("vm", "main"), /disk is full|ENOSPC/, "refused while the disk is full");
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith(".tmp")),
      [],
    );
    rmSync(filler);
    const w = await store.stream("vm", "main");
    w.appendRecords([Buffer.from("after")]);
    await w.waitDurable();
  } finally {
    rmSync(filler, { force: true });
    await store.close();
  }
  const index = await readIndex(dir);
  assert.ok((index?.segments.length ?? 0) >= 2, "the index lists the sealed segments again");
  assert.deepEqual(await storedPayloads(root), [...sent, "after"]);
});

test("fault: ENOSPC while eviction rewrites index.json: the oldest segment still goes, space is freed", {
  timeout: 60_000,
}, async (t) => {
  const mnt = mountTmpfs("2m", "logward-fault-evict-");
  if (!mnt) return t.skip(NEEDS_TMPFS);
  const root = join(mnt, "store");
  const sent = await plainSegments(root, 3000);
  const filler = join(mnt, "filler");
  const store = await Store.open(root, { maxSegmentBytes: SEGMENT, compress: false });
  try {
    const w = await store.stream("vm", "main");
    const before = (await streamSegments(root, "vm", "main")).filter((s) => !s.active);
    fill(filler);
    // what the policy does on a full disk (drop-oldest): the oldest sealed segment goes
    const gone = await w.removeOldestSealed();
    assert.equal(gone?.firstSeq, 1);
    const after = (await streamSegments(root, "vm", "main")).filter((s) => !s.active);
    assert.equal(after.length, before.length - 1);
    rmSync(filler);
    w.appendRecords([Buffer.from("after")]);
    await w.waitDurable();
  } finally {
    rmSync(filler, { force: true });
    await store.close();
  }
  const recs = await readAll(root, "vm", "main");
  const kept = sent.slice(recs[0]!.seq - 1);
  assert.ok(recs[0]!.seq > 1, "the oldest records were evicted");
  assert.deepEqual(
    recs.map((r) => r.payload.toString()),
    [...kept, "after"],
  );
});

test("fault: ENOSPC when the collector starts again: the store opens, and takes records once space returns", {
  timeout: 60_000,
}, async (t) => {
  const mnt = mountTmpfs("2m", "logward-fault-start-");
  if (!mnt) return t.skip(NEEDS_TMPFS);
  const root = join(mnt, "store");
  const sent = await plainSegments(root, 500);
  rmSync(join(root, "run/writer.pid"), { force: true }); // as after a crash before it was written
  const filler = join(mnt, "filler");
  fill(filler);
  // the writer lock (SQLite) and the pid file need no space: a restart on a full disk works
  const store = await Store.open(root, { maxSegmentBytes: SEGMENT, compress: false });
  try {
    const w = await store.stream("vm", "main");
    const big = `while full ${"z".repeat(20_000)}`; // more than the partly used last page
    w.appendRecords([Buffer.from(big)]);
    const stuck = await Promise.race([w.waitDurable().then(() => false), sleep(500).then(() => true)]);
    assert.equal(stuck, true, "not durable while the disk is full");
    rmSync(filler);
    await w.waitDurable();
  } finally {
    rmSync(filler, { force: true });
    await store.close();
  }
  assert.deepEqual(await storedPayloads(root), [...sent, `while full ${"z".repeat(20_000)}`]);
});

test("fault: ENOSPC at a seal by size (the next segment cannot be written): waited out, nothing lost", {
  timeout: 60_000,
}, async (t) => {
  const mnt = mountTmpfs("2m", "logward-fault-rotate-");
  if (!mnt) return t.skip(NEEDS_TMPFS);
  const root = join(mnt, "store");
  const filler = join(mnt, "filler");
  const store = await Store.open(root, { maxSegmentBytes: SEGMENT });
  let failed: Error | null = null;
  store.on("fatal", (e: Error) => {
    failed = e;
  });
  const sent: string[] = [];
  try {
    const w = await store.stream("vm", "main");
    const send = (n: number) => {
      for (let i = 0; i < n; i++) {
        sent.push(`record ${sent.length + 1} ${"s".repeat(200)}`);
        w.appendRecords([Buffer.from(sent.at(-1)!)]);
      }
    };
    send(250); // most of the first segment
    await w.waitDurable();
    const acknowledged = w.durableSeq;
    fill(filler);
    send(200); // crosses the segment size: the seal and the next segment need space
    await sleep(1000);
    assert.equal(failed, null, "a full disk at a seal is not fatal");
    assert.ok(w.durableSeq >= acknowledged);
    rmSync(filler);
    await w.waitDurable();
    assert.equal(w.durableSeq, 450);
    await store.idle();
  } finally {
    rmSync(filler, { force: true });
    await store.close();
  }
  assert.ok((await streamSegments(root, "vm", "main")).length >= 2, "the segment was sealed");
  assert.deepEqual(await storedPayloads(root), sent);
});

test("fault: ENOSPC while sealing (the !seal records and the key's next epoch): serve waits, verify passes after", {
  timeout: 60_000,
}, async (t) => {
  const mnt = mountTmpfs("4m", "logward-fault-sealing-");
  if (!mnt) return t.skip(NEEDS_TMPFS);
  const store = join(mnt, "store");
  const cfgFile = join(mnt, "c.toml");
  const config = '[collector]\nmin_free = "0B"\n[seal]\ninterval = "1s"\n';
  writeFileSync(cfgFile, config);
  const init = await logward(["seal", "init", "--store", store, "--config", cfgFile]);
  assert.equal(init.code, 0, init.stderr);
  const key = init.stdout.toString().trim().split("\n").at(-1)!;
  const filler = join(mnt, "filler");
  const env = { QREXEC_REMOTE_DOMAIN: "vm", QREXEC_SERVICE_ARGUMENT: "main" };
  const d = await serve(store, config);
  try {
    assert.equal((await ingest(store, "lines", "before\n", env)).code, 0);
    await sleep(1500);
    fill(filler);
    // records arrive while the disk is full: their seals and the key's next steps fall due
    const during = ingest(store, "lines", `${"during ".repeat(2000)}\n`, env);
    await sleep(3500);
    assert.equal(d.proc.exitCode, null, `serve must survive a full disk while sealing: ${d.out()}`);
    rmSync(filler);
    assert.equal((await during).code, 0, "acknowledged once space returned");
    assert.equal((await ingest(store, "lines", "after\n", env)).code, 0);
    await sleep(2500);
  } finally {
    rmSync(filler, { force: true });
    if (d.proc.exitCode === null) await d.stop();
  }
  const shown = await logward(["show", "vm/main", "--store", store, "--raw"]);
  assert.match(shown.stdout.toString(), /^before\n(during )+\nafter\n$/);
  const v = await logward(["verify", "--store", store, "--key", key]);
  assert.equal(v.code, 0, `${v.stdout}${v.stderr}`);
});
