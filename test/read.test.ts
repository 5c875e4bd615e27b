import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import fc from "fast-check";
import { readRecords } from "../src/query/records.ts";
import { summarizeStreams } from "../src/query/summary.ts";
import { readStats, streamSegments } from "../src/store/read.ts";
import { formatTime, parseLine } from "../src/store/record.ts";
import { lineAtTime } from "../src/store/seek.ts";
import { Store } from "../src/store/store.ts";
import { manualClock, type ReadBack, readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const T0 = 1_764_000_000_000_000;

describe("reading across segments with time windows", () => {
  const root = tempDir();
  let all: ReadBack[];

  before(async () => {
    const clock = manualClock(T0);
    // small sealed segments with several frames each, then a large active segment (binary search)
    const store = await Store.open(root, { clock, maxSegmentBytes: 16 * 1024, frameBytes: 4096 });
    const w = await store.stream("vm", "main");
    for (let i = 0; i < 1500; i++) {
      clock.advance(1000 + (i % 7) * 1000); // 1 to 7 ms apart, with several records per batch below
      const batch = Array.from({ length: 1 + (i % 3) }, (_, k) =>
        Buffer.from(`r${i}.${k} ${"p".repeat(i % 40)}`),
      );
      w.appendRecords(batch);
      if (i % 50 === 0) await store.idle();
    }
    await store.idle();
    await store.close();
    const big = await Store.open(root, { clock, maxSegmentBytes: 4 * 1024 * 1024 });
    const w2 = await big.stream("vm", "main");
    for (let i = 0; i < 12000; i++) {
      clock.advance(500);
      w2.appendRecords([Buffer.from(`late ${i} ${"q".repeat(i % 60)}`)]);
    }
    await big.close();
    all = await readAll(root, "vm", "main");
  });

  test("the store has compressed multi-frame segments and a large active one", async () => {
    const segs = await streamSegments(root, "vm", "main");
    assert.ok(segs.filter((s) => s.compressed).length > 10);
    assert.ok(segs.some((s) => (s.frames?.length ?? 0) >= 3));
    const active = segs.at(-1)!;
    assert.equal(active.compressed, false);
    assert.ok(active.bytes > 512 * 1024, "large enough for the binary search to matter");
    assert.deepEqual(
      all.map((r) => r.seq),
      Array.from({ length: all.length }, (_, i) => i + 1),
    );
  });

  test("any [since, until) window returns exactly the records a full scan would", async () => {
    const first = all[0]!.time;
    const last = all.at(-1)!.time;
    const span = (Date.parse(last) - Date.parse(first)) * 1000 + 2_000_000;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: -1_000_000, max: span }),
        fc.integer({ min: 0, max: span }),
        fc.boolean(),
        async (a, len, open) => {
          const since = formatTime(T0 + a);
          const until = open ? undefined : formatTime(T0 + a + len);
          const got = (await readAll(root, "vm", "main", { since, until })).map((r) => r.seq);
          const want = all
            .filter((r) => r.time >= since && (until === undefined || r.time < until))
            .map((r) => r.seq);
          assert.deepEqual(got, want);
        },
      ),
      { numRuns: 60 },
    );
  });

  test("a narrow window reads a small part of the store: index, frames and binary search are used", async () => {
    const segs = await streamSegments(root, "vm", "main");
    const total = segs.reduce((n, s) => n + s.bytes, 0);
    for (const target of [all[200]!, all[Math.floor(all.length * 0.8)]!]) {
      const since = target.time;
      const until = formatTime(Date.parse(target.time) * 1000 + Number(target.time.slice(23, 26)) + 3000);
      const before = { ...readStats };
      const got = await readAll(root, "vm", "main", { since, until });
      assert.ok(got.length >= 1 && got[0]!.seq <= target.seq);
      const read = readStats.bytesRead - before.bytesRead;
      assert.ok(read < total / 8, `read ${read} of ${total} bytes for a 3 ms window`);
      assert.ok(readStats.segmentsOpened - before.segmentsOpened <= 2);
    }
  });

  test("ls summarizes records, bytes and times from indexes and the active segment", async () => {
    const [row] = await summarizeStreams(root);
    assert.ok(row);
    assert.equal(row.records, all.length);
    assert.equal(row.first, all[0]!.time);
    assert.equal(row.last, all.at(-1)!.time);
    const segs = await streamSegments(root, "vm", "main");
    assert.equal(row.segments, segs.length);
    assert.equal(
      row.bytes,
      segs.reduce((n, s) => n + s.bytes, 0),
    );
  });
});

describe("finding a time inside a block", () => {
  test("lineAtTime agrees with a scan line by line, for any block, start and time", () => {
    fc.assert(
      fc.property(
        // non-decreasing times with repeats, lines of any length (1 line blocks included)
        fc.array(fc.tuple(fc.integer({ min: 0, max: 6 }), fc.string({ maxLength: 30 })), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.integer({ min: -1, max: 60 }),
        fc.nat(),
        (rows, at, fromPick) => {
          let t = 0;
          const lines = rows.map(([step, text], i) => {
            t += step;
            return `${formatTime(T0 + t)} ${i + 1} . ${text.replace(/\n/g, " ")}\n`;
          });
          const block = Buffer.from(lines.join(""), "latin1");
          const starts: number[] = [];
          for (let o = 0, k = 0; k < lines.length; o += Buffer.byteLength(lines[k]!, "latin1"), k++)
            starts.push(o);
          const from = starts[fromPick % starts.length]!;
          const time = Buffer.from(formatTime(T0 + at), "latin1");
          const want =
            starts.find((s) => s >= from && block.compare(time, 0, 27, s, s + 27) >= 0) ?? block.length;
          assert.equal(lineAtTime(block, from, time), want);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("reading several streams", () => {
  test("all streams of an origin are merged in receive order", async () => {
    const root = tempDir();
    const clock = manualClock(T0);
    const store = await Store.open(root, { clock, maxSegmentBytes: 4096 });
    const names = ["main", "audit", "kern"];
    const writers = await Promise.all(names.map((n) => store.stream("vm", n)));
    for (let i = 0; i < 600; i++) {
      clock.advance(1 + ((i * 7919) % 13) * 100);
      writers[(i * 31) % 3]!.appendRecords([Buffer.from(`event ${i}`)]);
    }
    await store.close();
    const lines: { time: string; payload: string }[] = [];
    for await (const v of readRecords(
      root,
      names.map((stream) => ({ origin: "vm", stream })),
      {},
    )) {
      const p = parseLine(v.block, v.start, v.end)!;
      lines.push({ time: p.time, payload: v.block.toString("latin1", p.payloadStart, p.payloadEnd) });
    }
    assert.equal(lines.length, 600);
    for (let k = 1; k < lines.length; k++) assert.ok(lines[k - 1]!.time <= lines[k]!.time);
    // with strictly increasing times the merge restores the order of appends exactly
    assert.deepEqual(
      lines.map((l) => l.payload),
      Array.from({ length: 600 }, (_, i) => `event ${i}`),
    );
  });
});
