// A stream directory swapped for a symbolic link while the collector runs (issue 21: the check
// of a stream directory was not atomic with the opens after it). Node has no openat, so the
// writer notes the device and inode of its origin and stream directories when it opens the
// stream and compares them before it creates or reopens a segment by path: a swapped directory
// is refused (LW_UNSAFE_PATH), and nothing is written where the link points.

import assert from "node:assert/strict";
import { cpSync, readdirSync, readFileSync, renameSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { LogwardError } from "../src/errors.ts";
import { Store } from "../src/store/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every file under `dir` with its content. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true }))
    if (e.isFile()) out[join(e.parentPath, e.name)] = readFileSync(join(e.parentPath, e.name), "latin1");
  return out;
}

for (const swapped of ["stream", "origin"] as const) {
  test(`the ${swapped} directory swapped for a link while its file is closed is not written through`, async () => {
    const base = tempDir("logward-swap-");
    const store = await Store.open(join(base, "store"));
    let fatal: unknown = null;
    store.on("fatal", (err) => {
      fatal = err;
    });
    store.on("warning", () => {});
    const w = await store.stream("vm", "main");
    w.appendRecords([Buffer.from("before the swap")]);
    await store.idle();
    assert.equal(await w.closeIdle(), true, "the idle stream's file is closed");

    // a copy outside, where the link will point: what a write through the link would change
    const dir = swapped === "stream" ? w.dir : join(w.dir, "..");
    const outside = join(base, "outside");
    cpSync(dir, outside, { recursive: true });
    renameSync(dir, join(base, "moved-away"));
    symlinkSync(outside, dir);
    const before0 = snapshot(outside);

    w.appendRecords([Buffer.from("after the swap")]);
    await sleep(300);
    assert.deepEqual(snapshot(outside), before0, "nothing was written through the link");
    assert.ok(fatal instanceof LogwardError && fatal.code === "LW_UNSAFE_PATH", String(fatal));
    assert.match((fatal as LogwardError).message, /vm\/main.*symbolic link/);
    await store.close();
  });
}
