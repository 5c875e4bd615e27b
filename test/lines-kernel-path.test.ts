// The lines framer's fast path: LineFramer hands whole runs of lines to the store
// (RecordSink.lines -> StreamWriter.appendLines), which frames and writes plain ASCII lines with
// the WebAssembly kernel and every other line with writeDataRecord. What it stores must be
// byte for byte what the record-by-record path (RecordSink.records -> appendSlices) stores, for
// any bytes cut into any chunks, with the kernel and without it.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { Store } from "../src/store/store.ts";
import { type StreamWriter, useLineKernel } from "../src/store/stream-writer.ts";
import type { RecordSink } from "../src/wire/framer.ts";
import { LineFramer } from "../src/wire/lines.ts";
import { manualClock } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const LIMIT = 300;

/** A sink like the collector's Session: cut records and a last line without LF get markers. */
function sinkFor(w: StreamWriter, fast: boolean): RecordSink {
  const sink: RecordSink = {
    records: (buf, offsets, count) => void w.appendSlices(buf, offsets, count),
    truncated: (kept, full) => {
      const seq = w.appendRecords([kept]);
      w.appendCollector("trunc", `seq=${seq} kept=${kept.length} received=${full}`);
    },
    unterminated: (kept, full) => {
      w.appendCollector("nolf", `seq=${w.nextSeq + 1}`);
      if (full > kept.length) sink.truncated(kept, full);
      else w.appendRecords([kept]);
    },
  };
  if (fast) sink.lines = (buf, start, end, limit) => w.appendLines(buf, start, end, limit);
  return sink;
}

async function store(bytes: Buffer, cuts: number[], fast: boolean): Promise<string> {
  const root = tempDir();
  const s = await Store.open(root, { clock: manualClock() });
  const w = await s.stream("o", "main");
  const framer = new LineFramer(LIMIT, sinkFor(w, fast));
  let at = 0;
  for (const c of [...cuts, bytes.length]) {
    const end = Math.min(bytes.length, Math.max(at, c));
    framer.push(bytes.subarray(at, end));
    at = end;
  }
  framer.end();
  await s.close();
  const dir = join(root, "origins/o/main");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".log"))
    .sort()
    .map((f) => readFileSync(join(dir, f), "latin1"))
    .join("");
}

const piece = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[ -[\]-~]{0,120}$/).map((t) => Buffer.from(`${t}\n`)) },
  { weight: 2, arbitrary: fc.constantFrom("\n", "\r\n", "a\\b\n", "tab\there\n", "é ü ☃\n", "\u202e\n") },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: LIMIT - 2, max: LIMIT + 2 }).map((n) => Buffer.from(`${"x".repeat(n)}\n`)),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 * LIMIT }).map((n) => Buffer.alloc(n, 0x41)) },
);

const input = fc.tuple(
  fc
    .array(piece, { maxLength: 60 })
    .map((ps) => Buffer.concat(ps.map((p) => (p instanceof Buffer ? p : Buffer.from(p))))),
  fc.array(fc.nat(4000), { maxLength: 8 }).map((cs) => cs.sort((a, b) => a - b)),
);

for (const kernel of [true, false]) {
  test(`appendLines stores what appendSlices stores, any bytes in any chunks (kernel ${kernel ? "on" : "off"})`, async () => {
    useLineKernel(kernel);
    try {
      await fc.assert(
        fc.asyncProperty(input, async ([bytes, cuts]) => {
          assert.equal(await store(bytes, cuts, true), await store(bytes, cuts, false));
        }),
        { numRuns: Number(process.env.FUZZ_RUNS ?? 150) },
      );
    } finally {
      useLineKernel(true);
    }
  });
}

test("the corpus's shape: 3000 plain lines in 64 KiB chunks store the same both ways", async () => {
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++)
    lines.push(`<134>1 2026-01-10T00:00:0${i % 10}.000Z web-01 nginx ${i} - - GET /item/${i * 7} 200\n`);
  const bytes = Buffer.from(lines.join(""));
  const cuts = [];
  for (let c = 65536; c < bytes.length; c += 65536) cuts.push(c);
  const fast = await store(bytes, cuts, true);
  assert.equal(fast, await store(bytes, cuts, false));
  assert.equal(fast.split("\n").length - 1, 3000);
});
