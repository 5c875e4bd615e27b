// The pieces verify's speed rests on: segment-blocks.ts (a plain segment read in chunks into two
// buffers, a cut line carried over) must hand out exactly the bytes read.ts's blocks hold, at
// any chunk size, lines longer than a chunk and a writer's unfinished last line included; and
// seal-format.ts's nextSealLine (a search for "!" rather than the word) finds a seal line only
// where its kind is the third field, at a block's edges too.

import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { segmentBlocks } from "../src/seal/segment-blocks.ts";
import type { SegmentView } from "../src/store/read.ts";
import { nextSealLine } from "../src/store/seal-format.ts";
import { tempDir } from "./helpers/tmp.ts";

const T = "2026-01-01T00:00:00.000000Z";

function segment(text: string): { dir: string; seg: SegmentView } {
  const dir = join(tempDir("logward-blocks-"), "s");
  mkdirSync(dir, { recursive: true });
  const file = "00000000000000000001.log";
  writeFileSync(join(dir, file), text, "latin1");
  const seg = {
    file,
    firstSeq: 1,
    lastSeq: 1,
    firstTime: T,
    lastTime: T,
    records: 1,
    bytes: text.length,
    rawBytes: text.length,
    compressed: false,
    active: true,
  } as SegmentView;
  return { dir, seg };
}

async function collect(dir: string, seg: SegmentView, chunk: number): Promise<string> {
  let out = "";
  for await (const b of segmentBlocks(dir, seg, chunk)) {
    assert.equal(b[b.length - 1], 0x0a, "every block ends with LF");
    out += b.toString("latin1");
  }
  return out;
}

test("segment blocks: the same bytes at every chunk size, long lines and an unfinished tail", async () => {
  const lines: string[] = [];
  for (let i = 1; i <= 300; i++) lines.push(`${T} ${i} . ${"x".repeat((i * 37) % 700)}`);
  const whole = `${lines.join("\n")}\n`;
  const { dir, seg } = segment(`${whole}${T} 301 . unfinished, no LF`);
  for (const chunk of [16, 64, 100, 333, 4096, 1 << 20]) {
    assert.equal(await collect(dir, seg, chunk), whole, `chunk ${chunk}`);
  }
  const empty = segment("");
  assert.equal(await collect(empty.dir, empty.seg, 64), "");
});

test("segment blocks: a caller stopping early leaves no read behind", async () => {
  const { dir, seg } = segment(
    `${Array.from({ length: 2000 }, (_, i) => `${T} ${i + 1} . line`).join("\n")}\n`,
  );
  for await (const _ of segmentBlocks(dir, seg, 128)) break;
});

test("nextSealLine finds the kind !seal only as a line's third field, at a block's edges too", () => {
  const seal = `${T} 7 !seal epoch=1`;
  const block = Buffer.from(
    `${T} 5 . says !seal here\n${T} 6 !sealed not a seal\n!seal at a line start\n${seal}\n`,
    "latin1",
  );
  const s = nextSealLine(block, 0);
  assert.ok(s);
  assert.equal(block.toString("latin1", s.start, s.end), seal);
  assert.equal(nextSealLine(block, s.end + 1), null);
  const first = Buffer.from(`${seal}\n`, "latin1");
  assert.deepEqual(nextSealLine(first, 0), { start: 0, end: seal.length });
  // a "!" as the very last byte, and a seal line cut before its LF
  assert.equal(nextSealLine(Buffer.from(`${T} 8 . !`, "latin1"), 0), null);
  assert.equal(nextSealLine(Buffer.from(seal, "latin1"), 0), null);
});
