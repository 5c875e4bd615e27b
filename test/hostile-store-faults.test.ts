// The store under resource faults (issue 21): a fatal store error ends `serve` with a non-zero
// exit (so systemd's Restart=on-failure restarts it), a full disk while a segment is sealed is
// not fatal, and one origin opening stream after stream exhausts neither file descriptors nor
// memory nor the other origins' service.
import assert from "node:assert/strict";
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { logward } from "./helpers/cli.ts";
import { type Daemon, ingest, serve } from "./helpers/daemon.ts";
import { tempDir } from "./helpers/tmp.ts";
import { mountTmpfs } from "./helpers/tmpfs.ts";

const exitOf = (d: Daemon, ms: number): Promise<number | null | "alive"> =>
  new Promise((resolve) => {
    if (d.proc.exitCode !== null) return resolve(d.proc.exitCode);
    const timer = setTimeout(() => resolve("alive"), ms);
    d.proc.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("a fatal store error ends serve with a non-zero exit instead of leaving it up and refusing", {
  timeout: 60_000,
}, async () => {
  const store = join(tempDir("logward-fatal-"), "store");
  const d = await serve(store, `[store]\nsegment_size = "64KiB"\n`);
  try {
    const env = { QREXEC_REMOTE_DOMAIN: "vm", QREXEC_SERVICE_ARGUMENT: "main" };
    assert.equal((await ingest(store, "lines", "first\n", env)).code, 0);
    // a directory where index.json must go: sealing the segment fails with EISDIR, an I/O
    // error that is not a full disk, so the store cannot go on
    mkdirSync(join(store, "origins/vm/main/index.json/x"), { recursive: true });
    const big = `${"x".repeat(1000)}\n`.repeat(100);
    const r = await ingest(store, "lines", big, env);
    assert.notEqual(r.code, 0, "nothing after the failure is acknowledged");
    const code = await exitOf(d, 15_000);
    assert.notEqual(code, "alive", `serve must exit after a fatal store error: ${d.out()}`);
    assert.equal(code, 1);
    assert.match(d.out(), /the store failed/);
  } finally {
    if (d.proc.exitCode === null) await d.stop();
  }
});

/** Fills the filesystem of `path` with one file until the disk is full. */
function fill(path: string): void {
  const fd = openSync(path, "w");
  const block = Buffer.alloc(4096, 0x66);
  try {
    for (;;) writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  } finally {
    closeSync(fd);
  }
}

test("a full disk while a segment is sealed (index.json) is waited out, not fatal", {
  timeout: 60_000,
}, async (t) => {
  const mnt = mountTmpfs("2m", "logward-hostile-enospc-");
  if (!mnt) return t.skip("needs root and a tmpfs mount to make a small real filesystem");
  const store = join(mnt, "store");
  // segment_age 1s: the age timer seals the active segment while the disk is full, and sealing
  // writes index.json, which needs a page the disk does not have
  const d = await serve(store, `[collector]\nmin_free = "0B"\n[store]\nsegment_age = "1s"\n`);
  const filler = join(mnt, "filler");
  try {
    const env = { QREXEC_REMOTE_DOMAIN: "vm", QREXEC_SERVICE_ARGUMENT: "main" };
    const before = Array.from({ length: 50 }, (_, i) => `before ${i}`);
    assert.equal((await ingest(store, "lines", `${before.join("\n")}\n`, env)).code, 0);
    fill(filler);
    await sleep(3000); // a few seals by age, each failing for lack of space
    const alive = await exitOf(d, 10);
    assert.equal(alive, "alive", `serve must survive a full disk while sealing: ${d.out()}`);
    rmSync(filler);
    const after = Array.from({ length: 50 }, (_, i) => `after ${i}`);
    const r = await ingest(store, "lines", `${after.join("\n")}\n`, env);
    assert.equal(r.code, 0, `ingest once space returned: ${r.stderr}`);
    const shown = await logward(["show", "vm/main", "--store", store, "--json"]);
    const payloads = shown.stdout
      .toString()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { kind: string; payload: string })
      .filter((x) => x.kind === "data")
      .map((x) => x.payload);
    assert.deepEqual(payloads, [...before, ...after]);
    // the seal that failed is written once space returned
    await sleep(1500);
    const index = JSON.parse(readFileSync(join(store, "origins/vm/main/index.json"), "utf8")) as {
      segments: unknown[];
    };
    assert.ok(index.segments.length >= 1, "index.json lists the sealed segment");
    assert.ok(readdirSync(join(store, "origins/vm/main")).length >= 2);
  } finally {
    rmSync(filler, { force: true });
    if (d.proc.exitCode === null) await d.stop();
  }
});
