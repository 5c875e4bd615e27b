import assert from "node:assert/strict";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Store } from "../src/store/store.ts";
import { readAll } from "./helpers/store.ts";
import { fill, mountTmpfs } from "./helpers/tmpfs.ts";

test("a full filesystem: nothing acknowledged is lost or damaged, and writing resumes when space returns", {
  timeout: 60_000,
}, async (t) => {
  const mnt = mountTmpfs("2m", "logward-enospc-");
  if (!mnt) return t.skip("needs root and a tmpfs mount to make a small real filesystem");
  const root = join(mnt, "store");
  const store = await Store.open(root, { compress: false });
  const sent: string[] = [];
  try {
    const warnings: Error[] = [];
    store.on("warning", (e: Error) => warnings.push(e));
    const w = await store.stream("vm", "main");
    const send = (n: number) => {
      for (let i = 0; i < n; i++) {
        const text = `record ${sent.length + 1} ${"p".repeat(sent.length % 200)}`;
        sent.push(text);
        w.appendRecords([Buffer.from(text)]);
      }
    };
    send(500);
    await w.waitDurable();
    fill(join(mnt, "filler"));
    const acknowledged = w.durableSeq;
    assert.equal(acknowledged, 500);

    // the disk is full: appends are accepted but do not become durable
    send(300);
    const stuck = await Promise.race([
      w.waitDurable().then(() => false),
      new Promise((r) => setTimeout(() => r(true), 600)),
    ]);
    assert.equal(stuck, true, "records must not be reported durable while the disk is full");
    assert.ok(
      warnings.some((e) => /disk is full/.test(e.message)),
      "a clear warning was raised",
    );
    assert.equal(w.durableSeq, acknowledged);
    // what is on disk is whole lines only, and holds everything acknowledged
    const dir = join(root, "origins/vm/main");
    const file = readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith(".log"))!));
    assert.equal(file.at(-1), 0x0a, "no partial line left on disk");
    assert.ok(file.toString().split("\n").length - 1 >= acknowledged);

    send(100);
    rmSync(join(mnt, "filler")); // space returns
    await w.waitDurable();
    assert.equal(w.durableSeq, 900);
  } finally {
    rmSync(join(mnt, "filler"), { force: true });
    await store.close();
  }
  const recs = await readAll(root, "vm", "main");
  assert.deepEqual(
    recs.map((r) => r.payload.toString()),
    sent,
  );
});
