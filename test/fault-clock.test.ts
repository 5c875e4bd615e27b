// Faults (issue 21): the collector's clock steps backwards and forwards (NTP corrections, a
// wrong RTC at boot, a VM restored from a snapshot). Receive times are the collector's, so they
// must never decrease within a stream: a step back holds the last stamp until the clock catches
// up, whether it happens between two appends, across a seal by age, while the stream's file was
// closed for the descriptor cap, or while the collector was down. The store's clock is injected
// through Store.open's `clock` option (the collector uses the wall clock).
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { streamSegments } from "../src/store/read.ts";
import { parseTime } from "../src/store/record.ts";
import { Store } from "../src/store/store.ts";
import { logward } from "./helpers/cli.ts";
import { manualClock, readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const SECOND = 1_000_000;
const DAY = 86_400 * SECOND;

/** Asserts the stream's receive times never decrease, over every record in seq order. */
async function assertMonotonic(
  root: string,
  origin: string,
  stream: string,
  count: number,
): Promise<string[]> {
  const recs = await readAll(root, origin, stream);
  assert.equal(recs.length, count, `${origin}/${stream}: every record is there`);
  assert.deepEqual(
    recs.map((r) => r.seq),
    Array.from({ length: count }, (_, i) => i + 1),
  );
  for (let i = 1; i < recs.length; i++)
    assert.ok(
      recs[i]!.time >= recs[i - 1]!.time,
      `seq ${recs[i]!.seq}: ${recs[i]!.time} < ${recs[i - 1]!.time}`,
    );
  return recs.map((r) => r.time);
}

test("fault: clock steps back and forward between appends and commits: receive times never decrease", async () => {
  const clock = manualClock();
  const root = tempDir();
  const store = await Store.open(root, { clock, maxSegmentBytes: 4096, compress: false });
  const w = await store.stream("vm", "main");
  const steps = [-5 * SECOND, 3600 * SECOND, -DAY, 2 * SECOND, -1, 1, -7200 * SECOND, DAY * 2, -DAY * 2];
  let n = 0;
  for (const step of steps) {
    for (let i = 0; i < 40; i++) {
      w.appendRecords([Buffer.from(`record ${++n}`)]);
      clock.advance(137);
    }
    await w.waitDurable();
    clock.advance(step);
  }
  await store.close();
  const times = await assertMonotonic(root, "vm", "main", n);
  // a step forward is kept as it is (the clock is the collector's): the last stamps are ~a day on
  assert.ok(parseTime(times.at(-1)!) - parseTime(times[0]!) >= DAY / 2, "forward steps show");
  // sealed segments' time ranges follow each other, so time windows still seek right
  const segs = await streamSegments(root, "vm", "main");
  assert.ok(segs.length >= 3);
  for (let i = 1; i < segs.length; i++) assert.ok(segs[i]!.firstTime >= segs[i - 1]!.lastTime);
});

test("fault: clock steps back after a seal by age: the new segment starts no earlier than the last", async () => {
  const clock = manualClock();
  const root = tempDir();
  const store = await Store.open(root, { clock, maxSegmentAgeMs: 1000 });
  const w = await store.stream("vm", "main");
  w.appendRecords([Buffer.from("record 1")]);
  await w.waitDurable();
  clock.advance(DAY); // a step forward of a day: the segment is now older than the age limit
  w.appendRecords([Buffer.from("record 2")]);
  await store.idle();
  clock.advance(-DAY - 10 * SECOND); // and back again, before the first record
  w.appendRecords([Buffer.from("record 3")]);
  w.requestSeal();
  await store.idle();
  clock.advance(SECOND);
  w.appendRecords([Buffer.from("record 4")]);
  await store.close();
  const times = await assertMonotonic(root, "vm", "main", 4);
  assert.equal(times[2], times[1], "the step back holds the last stamp");
  const segs = await streamSegments(root, "vm", "main");
  assert.ok(segs.length >= 2, "sealed by age");
  for (let i = 1; i < segs.length; i++) assert.ok(segs[i]!.firstTime >= segs[i - 1]!.lastTime);
  // a time window over the held stamp finds every record from it on
  const shown = await logward(["show", "vm/main", "--store", root, "--since", times[1]!]);
  assert.match(shown.stdout.toString(), /record 2\n[\s\S]*record 3\n[\s\S]*record 4\n/);
});

test("fault: clock behind the stored records when the collector starts again: no earlier stamp", async () => {
  const clock = manualClock();
  const root = tempDir();
  let store = await Store.open(root, { clock, maxSegmentBytes: 4096 });
  let w = await store.stream("vm", "main");
  for (let i = 1; i <= 100; i++) w.appendRecords([Buffer.from(`before restart ${i} ${"p".repeat(40)}`)]);
  await store.close();
  // the collector restarts with its clock an hour behind (a wrong RTC at boot)
  clock.advance(-3600 * SECOND);
  store = await Store.open(root, { clock, maxSegmentBytes: 4096 });
  w = await store.stream("vm", "main");
  for (let i = 1; i <= 100; i++) w.appendRecords([Buffer.from(`after restart ${i}`)]);
  await store.close();
  await assertMonotonic(root, "vm", "main", 200);
  // and again after the active segment was sealed and compressed: the stamp comes from the index
  store = await Store.open(root, { clock, maxSegmentBytes: 4096 });
  w = await store.stream("vm", "main");
  w.requestSeal();
  await store.idle();
  await store.close();
  clock.advance(-3600 * SECOND);
  store = await Store.open(root, { clock, maxSegmentBytes: 4096 });
  w = await store.stream("vm", "main");
  w.appendRecords([Buffer.from("after a seal and a restart")]);
  await store.close();
  await assertMonotonic(root, "vm", "main", 201);
});

test("fault: clock steps back while a stream's file is closed for the descriptor cap", async () => {
  const clock = manualClock();
  const root = tempDir();
  // one file open at a time: each stream written closes the others' files
  const store = await Store.open(root, { clock, maxOpenStreams: 1 });
  const names = ["a", "b", "c"];
  const writers = await Promise.all(names.map((s) => store.stream("vm", s)));
  for (let round = 0; round < 6; round++) {
    for (const w of writers) {
      w.appendRecords([Buffer.from(`round ${round}`)]);
      await w.waitDurable();
      clock.advance(round % 2 === 0 ? 10 * SECOND : -25 * SECOND);
    }
  }
  await store.close();
  for (const s of names) await assertMonotonic(root, "vm", s, 6);
  // the merged view of the streams is in receive order too
  const merged = (await logward(["show", "vm", "--store", root, "--json"])).stdout
    .toString()
    .trim()
    .split("\n")
    .map((l) => (JSON.parse(l) as { time: string }).time);
  assert.equal(merged.length, 18);
  assert.deepEqual(merged, [...merged].sort(), "show merges the streams in receive order");
});

test("fault: _logward's own records follow the same clock: no earlier stamp after a step back", async () => {
  const clock = manualClock();
  const root = join(tempDir(), "store");
  const store = await Store.open(root, { clock });
  const events = await store.stream("_logward", "events");
  for (let i = 0; i < 10; i++) {
    events.appendRecords([Buffer.from(`event=test n=${i}`)]);
    clock.advance(i % 2 ? -60 * SECOND : 30 * SECOND);
  }
  await store.close();
  await assertMonotonic(root, "_logward", "events", 10);
});
