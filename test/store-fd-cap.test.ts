// The store's descriptor cap (issue 21, probe 1): running out of descriptors (EMFILE) lowers
// how many segment files the store keeps open, and the cap rises again after a calm minute,
// step by step, back to max_open_streams. A burst of idle sockets that once took the
// descriptors must not leave the collector closing and reopening files for the rest of its life.

import assert from "node:assert/strict";
import { test } from "node:test";
import { CAP_RISE_AFTER_US, Store } from "../src/store/store.ts";
import type { StreamWriter } from "../src/store/stream-writer.ts";
import { manualClock } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const emfile = () => Object.assign(new Error("EMFILE: too many open files"), { code: "EMFILE" });

test("a descriptor cap lowered by EMFILE rises again after a calm minute, up to max_open_streams", async () => {
  const clock = manualClock();
  const store = await Store.open(tempDir(), { clock, maxOpenStreams: 12 });
  store.on("warning", () => {});
  try {
    const writers: StreamWriter[] = [];
    for (let i = 0; i < 8; i++) writers.push(await store.stream("vm", `s${i}`));
    const writeAll = async (text: string) => {
      for (const w of writers) w.appendRecords([Buffer.from(text)]);
      await store.idle();
    };
    // a write that met EMFILE: retried after 250 ms (store.idle() would spin until then)
    const failOnce = async () => {
      store.writeFailed(writers[0]!, emfile());
      await sleep(400);
      await store.idle();
    };
    await writeAll("one");
    assert.equal(store.openFileCount, 8);
    assert.equal(store.openFileCap, 12);

    // the process ran out of descriptors with 8 files open: keep 6 from now on
    await failOnce();
    assert.equal(store.openFileCap, 6);
    await writeAll("two");
    assert.ok(store.openFileCount <= 6, `${store.openFileCount} files open under a cap of 6`);

    // less than a minute later nothing changes
    clock.advance(CAP_RISE_AFTER_US - 1_000_000);
    await writeAll("three");
    assert.equal(store.openFileCap, 6);

    // each calm minute raises it by a quarter (at least one)
    clock.advance(2_000_000);
    await writeAll("four");
    assert.equal(store.openFileCap, 8);
    assert.equal(store.openFileCount, 8, "the 8 streams keep their files open again");
    clock.advance(CAP_RISE_AFTER_US);
    await writeAll("five");
    assert.equal(store.openFileCap, 10);

    // another EMFILE lowers it again, and the minute starts over
    await failOnce();
    assert.equal(store.openFileCap, 6);
    clock.advance(CAP_RISE_AFTER_US / 2);
    await writeAll("six");
    assert.equal(store.openFileCap, 6);

    // back at max_open_streams the cap is lifted
    for (let k = 0; k < 4; k++) {
      clock.advance(CAP_RISE_AFTER_US);
      await writeAll(`calm ${k}`);
    }
    assert.equal(store.openFileCap, 12);
  } finally {
    await store.close();
  }
});
