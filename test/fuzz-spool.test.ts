// Fuzzing the sender's spool (issue 21, "Fuzzing and property tests"): its entry parser
// (agent/spool-format.ts) and the recovery that opens a spool after a crash
// (agent/spool-recover.ts), on valid segments with bytes changed, cut or appended, and on
// arbitrary bytes. Neither ever throws; recovery keeps exactly the entries up to the last
// checkpoint of the valid prefix, cuts the file there, and never lets a checkpoint's JSON change
// more than the positions it names.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import fc from "fast-check";
import {
  type Entry,
  GAP_ENTRY_SIZE,
  isRecordEntry,
  parseEntries,
  recordEntrySize,
  segmentName,
  T_CHECK,
  writeCheckpointEntry,
  writeGapEntry,
  writeRecordEntry,
} from "../src/agent/spool-format.ts";
import { recoverSegments } from "../src/agent/spool-recover.ts";
import { crashers, rejected, runs } from "./helpers/fuzz.ts";

type Item = { rec: Uint8Array; u: boolean } | { gap: number } | { check: string };

/** A segment's bytes as the spool writes them, seqs from 1. */
function segmentBytes(items: Item[]): Buffer {
  const parts: Buffer[] = [];
  let seq = 1;
  for (const it of items) {
    if ("rec" in it) {
      const b = Buffer.alloc(recordEntrySize(it.rec.length));
      writeRecordEntry(b, 0, seq++, 1000, it.rec, it.u);
      parts.push(b);
    } else if ("gap" in it) {
      const b = Buffer.alloc(GAP_ENTRY_SIZE);
      writeGapEntry(b, 0, { first: seq, last: seq + it.gap - 1, firstUs: 1, lastUs: 2 });
      seq += it.gap;
      parts.push(b);
    } else {
      const json = Buffer.from(it.check);
      const b = Buffer.alloc(9 + json.length);
      writeCheckpointEntry(b, 0, json);
      parts.push(b);
    }
  }
  return Buffer.concat(parts);
}

const item: fc.Arbitrary<Item> = fc.oneof(
  fc.record({ rec: fc.uint8Array({ maxLength: 20 }), u: fc.boolean() }),
  fc.record({ gap: fc.integer({ min: 1, max: 5 }) }),
  fc.oneof(
    fc.jsonValue().map((v) => ({ check: JSON.stringify(v) })),
    fc
      .constantFrom(
        '{"__proto__":{"polluted":1}}',
        '{"constructor":{"prototype":{"x":1}}}',
        "not json",
        "[1]",
        '"s"',
      )
      .map((check) => ({ check })),
  ),
);

/** Valid segments, then changed: bytes set, a tail cut, junk appended. */
const segment = fc
  .tuple(
    fc.array(item, { maxLength: 8 }),
    fc.array(fc.record({ at: fc.nat(), byte: fc.nat(255) }), { maxLength: 2 }),
    fc.option(fc.nat()),
    fc.uint8Array({ maxLength: 12 }),
  )
  .map(([items, sets, cut, junk]) => {
    const b = segmentBytes(items);
    for (const s of sets) if (b.length > 0) b[s.at % b.length] = s.byte;
    const kept = cut === null ? b : b.subarray(0, cut % (b.length + 1));
    return Buffer.concat([kept, Buffer.from(junk)]);
  });

describe("spool entries", () => {
  test("parseEntries never throws; entries are whole, in order, inside the buffer", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          segment,
          fc.uint8Array({ maxLength: 100 }).map((a) => Buffer.from(a)),
        ),
        fc.nat(1000),
        (b, base) => {
          const out: Entry[] = [];
          const r = parseEntries(b, base, out);
          const stop = r < 0 ? -1 - r : r;
          assert.ok(stop <= b.length);
          let end = base;
          for (const e of out) {
            assert.ok(e.end > end && e.end <= base + stop);
            assert.equal(e.end - e.body.length - 9, end);
            end = e.end;
          }
        },
      ),
      runs(5000),
    );
  });
});

describe("spool recovery", () => {
  const root = mkdtempSync(join(tmpdir(), "lw-fuzz-spool-"));
  after(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;

  const recover = async (segments: Buffer[]) => {
    const dir = join(root, String(n++));
    mkdirSync(dir);
    let seq = 1;
    for (const s of segments) {
      writeFileSync(join(dir, segmentName(seq)), s);
      seq += 1000;
    }
    const positions: Record<string, unknown> = {};
    let got: Awaited<ReturnType<typeof recoverSegments>> | undefined;
    const err = await rejected(async () => {
      got = await recoverSegments(dir, positions);
    });
    assert.equal(err, undefined, `recovery threw ${String(err)}`);
    // a checkpoint sets positions, it never gives the object another prototype
    assert.equal(Object.getPrototypeOf(positions), Object.prototype);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    // what it kept is what each kept file now holds, up to its last checkpoint
    const files = readdirSync(dir).sort();
    assert.deepEqual(
      files,
      got!.segments.map((s) => s.name),
    );
    let records = 0;
    for (const s of got!.segments) {
      const bytes = readFileSync(join(dir, s.name));
      assert.equal(statSync(join(dir, s.name)).size, s.size);
      const entries: Entry[] = [];
      parseEntries(bytes, 0, entries);
      assert.equal(entries.at(-1)?.type, T_CHECK);
      assert.equal(entries.at(-1)?.end, s.size);
      records += entries.filter(isRecordEntry).length;
    }
    assert.equal(got!.records, records);
    rmSync(dir, { recursive: true, force: true });
  };

  test("any damaged segments: recovery never throws, keeps whole commits, cuts the rest", async () => {
    for (const { bytes } of crashers("spool")) await recover([bytes]);
    await fc.assert(
      fc.asyncProperty(fc.array(segment, { minLength: 1, maxLength: 3 }), recover),
      runs(400, { slow: true }),
    );
  });
});
