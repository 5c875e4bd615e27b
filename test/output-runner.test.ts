// The runner (src/output/runner.ts) on a real store with a recording destination: it sends
// records in seq order from the cursor, moves the cursor only once deliver() resolved, sends
// nothing beyond what the collector reported durable (durable-gate.ts), picks up a stream that
// appears later, and after a failed destination resends everything after the cursor.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { OutputConfig } from "../src/config/types.ts";
import type { Destination, OutRecord } from "../src/output/destination.ts";
import { DurableGate } from "../src/output/durable-gate.ts";
import { OutputRunner } from "../src/output/runner.ts";
import { Store } from "../src/store/store.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

const config = (start: "oldest" | "newest" = "oldest"): OutputConfig => ({
  name: "rec",
  type: "exec",
  match: "vm*",
  start,
  command: null,
  options: {},
  file: "test",
});

/** A destination that keeps what it got; `failAt` makes the n-th deliver() reject. */
function recorder(failAt = -1) {
  const got: string[] = [];
  let calls = 0;
  let made = 0;
  return {
    got,
    made: () => made,
    factory: (): Destination => {
      made++;
      return {
        deliver: async (batch: readonly OutRecord[]) => {
          if (++calls === failAt) throw new Error("receiver went away");
          for (const r of batch)
            if (r.kind === ".") got.push(`${r.origin}/${r.stream} ${r.payload.toString()}`);
        },
        close: async () => {},
      };
    },
  };
}

async function storeWith(root: string, n: number): Promise<Store> {
  const store = await Store.open(root);
  const w = await store.stream("vm1", "main");
  w.appendRecords(Array.from({ length: n }, (_, i) => Buffer.from(`r${i + 1}`)));
  await store.flush();
  return store;
}

test("only records the collector reported durable are sent; the rest once they are", async () => {
  const root = tempDir();
  const store = await storeWith(root, 10);
  const gate = new DurableGate();
  gate.setStart(new Map([["vm1/main", 4]]));
  const rec = recorder();
  const runner = new OutputRunner({ root, config: config(), factory: rec.factory, log: () => {}, gate });
  runner.start();
  try {
    await until("the durable records", () => rec.got.length === 4);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(rec.got.length, 4, "nothing past the durable seq");
    gate.note("vm1/main", 10);
    await until("the rest", () => rec.got.length === 10);
    assert.deepEqual(
      rec.got,
      Array.from({ length: 10 }, (_, i) => `vm1/main r${i + 1}`),
    );
  } finally {
    await runner.stop();
    await store.close();
  }
  const cursors = JSON.parse(readFileSync(join(root, "run/outputs/rec/cursors.json"), "utf8"));
  assert.equal(cursors.streams["vm1/main"].seq, 10);
});

test("a failed destination is made again and gets everything after the cursor; a new stream is picked up", async () => {
  const root = tempDir();
  const store = await storeWith(root, 3000);
  const rec = recorder(2);
  const runner = new OutputRunner({
    root,
    config: config(),
    factory: rec.factory,
    log: () => {},
    backoffMs: 50,
  });
  runner.start();
  try {
    await until("every record after the failure", () => new Set(rec.got).size === 3000);
    assert.equal(rec.made(), 2, "one new destination after the failure");
    assert.equal(runner.snapshot().restarts, 1);
    assert.equal(runner.snapshot().lastError, "receiver went away");
    const w = await store.stream("vm2", "late");
    w.appendRecords([Buffer.from("late one")]);
    await store.flush();
    await until("the new stream", () => rec.got.includes("vm2/late late one"));
  } finally {
    await runner.stop();
    await store.close();
  }
});

test('start = "newest" begins after what is stored when the output first runs', async () => {
  const root = tempDir();
  const store = await storeWith(root, 5);
  const rec = recorder();
  const runner = new OutputRunner({ root, config: config("newest"), factory: rec.factory, log: () => {} });
  runner.start();
  try {
    await until("the cursor placed", () => runner.snapshot().streams["vm1/main"]?.seq === 5);
    (await store.stream("vm1", "main")).appendRecords([Buffer.from("new")]);
    await store.flush();
    await until("the new record", () => rec.got.length === 1);
    assert.deepEqual(rec.got, ["vm1/main new"]);
  } finally {
    await runner.stop();
    await store.close();
  }
});
