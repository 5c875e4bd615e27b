// The line kernel (src/store/line-kernel.ts + line-kernel.wat): the records it writes, plus the
// lines it leaves to the caller written the JavaScript way, are byte for byte what the
// JavaScript path alone writes (StreamWriter's writeDataRecord: prefix, escapeInto, LF), for
// any input cut into any chunks, any destination room and any limit; its committed bytes are
// the .wat's; and where WebAssembly is missing the caller is told to keep to JavaScript.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, test } from "node:test";
import { buildSync } from "esbuild";
import fc from "fast-check";
import { assembleKernel, KERNEL_TS, kernelSource } from "../scripts/build-kernel.ts";
import { escapeInto } from "../src/store/escape.ts";
import {
  createLineEncoder,
  type LineEncoder,
  STOP_DONE,
  STOP_FULL,
  STOP_SLOW,
} from "../src/store/line-kernel.ts";
import { LINE_KERNEL_WASM_BASE64 } from "../src/store/line-kernel-wasm.ts";
import { TIME_LEN, writeDecimal } from "../src/store/record.ts";
import { runs } from "./helpers/fuzz.ts";
import { tempDir } from "./helpers/tmp.ts";

const ROOT = resolve(import.meta.dirname, "..");

const TIME = Buffer.from("2026-11-26T21:30:00.123456Z", "latin1");
const LF = 0x0a;

function encoder(): LineEncoder {
  const enc = createLineEncoder();
  assert.ok(enc, "WebAssembly SIMD is available on Node 24");
  return enc;
}
const enc = encoder();
const WINDOW = enc.windowSize;

/** One data record written the JavaScript way: StreamWriter.writeDataRecord without a ref. */
function jsRecord(src: Buffer, s: number, e: number, time: Buffer, seq: number): Buffer {
  const buf = Buffer.alloc(TIME_LEN + 24 + 4 * (e - s));
  time.copy(buf, 0);
  let pos = TIME_LEN;
  buf[pos++] = 0x20;
  pos = writeDecimal(buf, pos, seq);
  buf[pos++] = 0x20;
  buf[pos++] = 0x2e;
  buf[pos++] = 0x20;
  pos = escapeInto(src, s, e, buf, pos);
  buf[pos++] = LF;
  return buf.subarray(0, pos);
}

/** The JavaScript path alone: a record per complete line (offsets from indexOf), and the rest. */
function jsPath(src: Buffer, seq: number): { out: Buffer; seq: number; rest: Buffer } {
  const parts: Buffer[] = [];
  let s = 0;
  for (let lf = src.indexOf(LF); lf !== -1; lf = src.indexOf(LF, s)) {
    parts.push(jsRecord(src, s, lf, TIME, seq++));
    s = lf + 1;
  }
  return { out: Buffer.concat(parts), seq, rest: src.subarray(s) };
}

/**
 * A caller of the encoder the way StreamWriter would be: chunks arrive with the tail of the
 * previous one carried over (and some junk before `start`, and the destination written from an
 * offset), SLOW lines are written with jsRecord, FULL drains the destination (and grows it
 * when even an empty one is too small).
 */
function kernelPath(
  chunks: Buffer[],
  seq: number,
  limit: number,
  rooms: number[],
): { out: Buffer; seq: number; rest: Buffer } {
  const parts: Buffer[] = [];
  let carry = Buffer.alloc(0);
  let r = 0;
  const nextRoom = () => rooms[r++ % rooms.length] ?? 1 << 20;
  let room = nextRoom();
  const DST_AT = 3;
  let dst = Buffer.alloc(DST_AT + room + 5);
  let d = DST_AT;
  const drain = () => {
    parts.push(Buffer.from(dst.subarray(DST_AT, d)));
    d = DST_AT;
  };
  for (const chunk of chunks) {
    const junk = Buffer.from("\\\n\xff", "latin1"); // bytes before start must not matter
    const src = Buffer.concat([junk, carry, chunk]);
    let s = junk.length;
    for (;;) {
      const stop = enc.encode(src, s, src.length, dst, d, DST_AT + room, TIME, seq, limit);
      assert.equal(stop, enc.stop);
      assert.ok(enc.srcPos >= s && enc.srcPos <= src.length);
      assert.ok(enc.dstPos >= d && enc.dstPos <= DST_AT + room);
      assert.equal(enc.records === 0, enc.dstPos === d);
      // every record consumed exactly one line, and only lines that are not plain were escaped
      let lines = 0;
      let notPlain = 0;
      let linePlain = true;
      for (let i = s; i < enc.srcPos; i++) {
        const b = src[i]!;
        if (b === LF) {
          lines++;
          if (!linePlain) notPlain++;
          linePlain = true;
        } else if (b < 0x20 || b > 0x7e || b === 0x5c) linePlain = false;
      }
      assert.equal(lines, enc.records);
      assert.equal(notPlain, enc.escaped, "the kernel writes every plain line within the limit");
      assert.ok(enc.srcPos === s || src[enc.srcPos - 1] === LF);
      seq += enc.records;
      s = enc.srcPos;
      d = enc.dstPos;
      if (stop === STOP_DONE) {
        assert.equal(src.indexOf(LF, s), -1, "DONE with a complete line left");
        assert.equal(enc.slowEnd, -1);
        break;
      }
      if (stop === STOP_SLOW) {
        assert.equal(src.indexOf(LF, s), enc.slowEnd, "slowEnd is the line's LF");
        const len = enc.slowEnd - s;
        assert.ok(len > limit || len >= WINDOW, "SLOW only for a line over the limit or the window");
        drain();
        parts.push(jsRecord(src, s, enc.slowEnd, TIME, seq++));
        s = enc.slowEnd + 1;
        continue;
      }
      assert.equal(stop, STOP_FULL);
      assert.equal(enc.slowEnd, -1);
      const lf = src.indexOf(LF, s);
      assert.ok(lf !== -1 && lf - s <= limit, "FULL only for a complete line within the limit");
      const plain = src.subarray(s, lf).every((b) => b >= 0x20 && b <= 0x7e && b !== 0x5c);
      // a line to escape needs room for its largest record
      const recordLen = TIME_LEN + 1 + String(seq).length + 3 + (lf - s) * (plain ? 1 : 4) + 1;
      assert.ok(recordLen > DST_AT + room - d, "FULL only when the record does not fit the room left");
      if (d === DST_AT) room = Math.max(nextRoom(), 2 * room, 64);
      else room = nextRoom();
      drain();
      dst = Buffer.alloc(DST_AT + room + 5);
    }
    carry = src.subarray(s);
  }
  drain();
  return { out: Buffer.concat(parts), seq, rest: carry };
}

function assertSameAsJs(lines: Buffer[], cuts: number[], seq: number, limit: number, rooms: number[]): void {
  const all = Buffer.concat(lines);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const c of [...cuts].map((x) => x % (all.length + 1)).sort((a, b) => a - b)) {
    chunks.push(all.subarray(at, c));
    at = c;
  }
  chunks.push(all.subarray(at));
  const want = jsPath(all, seq);
  const got = kernelPath(chunks, seq, limit, rooms);
  assert.equal(got.seq, want.seq);
  assert.ok(got.rest.equals(want.rest), "the same incomplete rest");
  if (!got.out.equals(want.out)) {
    let i = 0;
    while (got.out[i] === want.out[i]) i++;
    assert.fail(
      `output differs at byte ${i} of ${want.out.length}: got ${JSON.stringify(got.out.subarray(i, i + 60).toString("latin1"))}, want ${JSON.stringify(want.out.subarray(i, i + 60).toString("latin1"))}`,
    );
  }
}

// ---- generators ----

const plainByte = fc.integer({ min: 0x20, max: 0x7e }).filter((b) => b !== 0x5c);
/** Bytes escapeInto does not copy as is, and pieces of UTF-8 (valid, dangerous, broken). */
const SPECIALS: number[][] = [
  [0x09],
  [0x5c],
  [0x0d],
  [0x00],
  [0x1b],
  [0x7f],
  [0x80],
  [0xff],
  [0xc3, 0xa9], // é
  [0xe2, 0x82, 0xac], // €
  [0xf0, 0x9f, 0x98, 0x80], // 😀
  [0xe2, 0x80, 0xae], // U+202E, escaped
  [0xc2, 0x85], // U+0085, escaped
  [0xe0, 0x80], // broken
  [0xc3],
];
const specialBytes = fc.constantFrom(...SPECIALS);

function plainRun(len: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) {
    const c = 0x20 + ((seed + i * 7) % 95);
    b[i] = c === 0x5c ? 0x41 : c;
  }
  return b;
}

/** A line with its LF (or without, when it is the last and `lf` is false). */
function lineArb(limit: number): fc.Arbitrary<Buffer> {
  const short = fc.array(plainByte, { maxLength: 300 }).map((a) => Buffer.from(a));
  const mixed = fc
    .array(
      fc.oneof({ weight: 6, arbitrary: plainByte.map((b) => [b]) }, { weight: 1, arbitrary: specialBytes }),
      {
        maxLength: 120,
      },
    )
    .map((a) => Buffer.from(a.flat()));
  // around the limit, around the window, and a special byte anywhere in a long line (in the last
  // chunk of 16 or not, before or after the limit)
  const long = fc
    .record({
      len: fc.oneof(
        fc.integer({
          min: Math.max(0, Math.min(limit, 2 * WINDOW) - 17),
          max: Math.min(limit, 2 * WINDOW) + 17,
        }),
        fc.integer({ min: WINDOW - 34, max: WINDOW + 17 }),
        fc.integer({ min: 0, max: 2 * WINDOW + 40 }),
      ),
      seed: fc.nat(94),
      bad: fc.option(fc.record({ at: fc.nat(), bytes: specialBytes }), { freq: 3 }),
    })
    .map(({ len, seed, bad }) => {
      const b = plainRun(len, seed);
      if (bad && len > 0) {
        const at = bad.at % len;
        return Buffer.concat([b.subarray(0, at), Buffer.from(bad.bytes), b.subarray(at)]);
      }
      return b;
    });
  // one special byte anywhere in a plain line of a few 16-byte chunks
  const oneBad = fc
    .record({ len: fc.nat(300), seed: fc.nat(94), at: fc.nat(), bytes: specialBytes })
    .map(({ len, seed, at, bytes }) => {
      const b = plainRun(len, seed);
      const i = at % (len + 1);
      return Buffer.concat([b.subarray(0, i), Buffer.from(bytes), b.subarray(i)]);
    });
  return fc.oneof(
    { weight: 10, arbitrary: short },
    { weight: 2, arbitrary: fc.constant(Buffer.alloc(0)) },
    { weight: 4, arbitrary: mixed },
    { weight: 4, arbitrary: oneBad },
    { weight: 1, arbitrary: long },
  );
}

const seqArb = fc.oneof(
  fc.constantFrom(
    1,
    7,
    8,
    9,
    10,
    95,
    98,
    99,
    100,
    999,
    99_999_999,
    10 ** 15 - 3,
    10 ** 15,
    9_007_199_254_000_000,
  ),
  fc.integer({ min: 0, max: 2 ** 40 }),
);
const limitArb = fc.oneof(
  fc.constantFrom(0, 1, 2, 15, 16, 17, 64, 1 << 30),
  fc.integer({ min: 0, max: 400 }),
  fc.integer({ min: WINDOW - 20, max: WINDOW + 20 }),
);

describe("line kernel", () => {
  test("the committed module is the .wat assembled (npm run build:kernel)", async () => {
    const bytes = await assembleKernel();
    assert.ok(Buffer.from(LINE_KERNEL_WASM_BASE64, "base64").equals(Buffer.from(bytes)), "bytes drifted");
    assert.equal(readFileSync(KERNEL_TS, "utf8"), kernelSource(bytes));
  });

  test("kernel + JS for the lines it leaves = the JS path alone, any input, chunks, room, limit", () => {
    fc.assert(
      fc.property(
        limitArb.chain((limit) =>
          fc.record({
            limit: fc.constant(limit),
            lines: fc.array(lineArb(limit), { maxLength: 40 }),
            lastLf: fc.boolean(),
            cuts: fc.array(fc.nat(), { maxLength: 6 }),
            seq: seqArb,
            rooms: fc.array(fc.oneof(fc.integer({ min: 0, max: 600 }), fc.constant(1 << 20)), {
              minLength: 1,
              maxLength: 5,
            }),
          }),
        ),
        ({ limit, lines, lastLf, cuts, seq, rooms }) => {
          const withLf = lines.map((l, i) =>
            i < lines.length - 1 || lastLf ? Buffer.concat([l, Buffer.of(LF)]) : l,
          );
          // the encoder takes a seq only while the source could not carry it past 2^53 at one
          // record per byte (refused otherwise, tested below): a long line at the largest seq
          // (9,007,199,254,000,000 leaves 740,991) is an input it refuses, not a property
          const bytes = withLf.reduce((n, l) => n + l.length, 0);
          assertSameAsJs(withLf, cuts, Math.min(seq, Number.MAX_SAFE_INTEGER - bytes), limit, rooms);
        },
      ),
      runs(300),
    );
  });

  test("every special byte at every position of a line of a few 16- and 32-byte steps", () => {
    for (const bytes of SPECIALS) {
      for (let at = 0; at <= 100; at++) {
        const b = plainRun(100, at);
        const line = Buffer.concat([b.subarray(0, at), Buffer.from(bytes), b.subarray(at), Buffer.of(LF)]);
        assertSameAsJs([line, Buffer.from("next\n")], [], 7, 1 << 20, [1 << 20]);
      }
    }
  });

  test("many short plain lines over several windows, records across seq 9 -> 10 -> ... -> 10000", () => {
    const lines: Buffer[] = [];
    for (let i = 0; i < 30_000; i++) lines.push(Buffer.concat([plainRun(i % 37, i), Buffer.of(LF)]));
    assertSameAsJs(lines, [], 1, 1 << 20, [1 << 20]);
    assertSameAsJs(lines, [100_000, 300_001, 500_002], 9, 36, [1 << 20, 5000, 0]);
  });

  test("a long plain line that finds the kernel's output area nearly full by short records", () => {
    // ~10,000 empty lines fill most of the 384 KiB area; the long line must not be copied past it
    const lines = [Buffer.alloc(10_000, LF), plainRun(200_000, 5), Buffer.of(LF)];
    assertSameAsJs(lines, [], 1, 1 << 30, [4 << 20]);
    assertSameAsJs(lines, [], 1, 1 << 30, [1 << 20]);
  });

  test("hostile: empty source, only LFs, no LF, zero room, limit 0 and 1", () => {
    const dst = Buffer.alloc(4096);
    assert.equal(enc.encode(Buffer.alloc(0), 0, 0, dst, 0, dst.length, TIME, 1, 100), STOP_DONE);
    assert.deepEqual([enc.srcPos, enc.dstPos, enc.records, enc.slowEnd], [0, 0, 0, -1]);

    const lfs = Buffer.from("\n\n\n");
    assert.equal(enc.encode(lfs, 0, 3, dst, 0, dst.length, TIME, 9, 0), STOP_DONE);
    assert.equal(enc.records, 3);
    assert.equal(dst.toString("latin1", 0, enc.dstPos), `${TIME} 9 . \n${TIME} 10 . \n${TIME} 11 . \n`);

    const noLf = Buffer.from("abc def");
    assert.equal(enc.encode(noLf, 0, noLf.length, dst, 0, dst.length, TIME, 1, 100), STOP_DONE);
    assert.deepEqual([enc.srcPos, enc.records], [0, 0]);
    const bigNoLf = plainRun(3 * WINDOW + 5, 1);
    assert.equal(enc.encode(bigNoLf, 0, bigNoLf.length, dst, 0, dst.length, TIME, 1, 1 << 30), STOP_DONE);
    assert.deepEqual([enc.srcPos, enc.records], [0, 0]);

    const two = Buffer.from("ab\ncd\n");
    assert.equal(enc.encode(two, 0, two.length, dst, 7, 7, TIME, 1, 100), STOP_FULL);
    assert.deepEqual([enc.srcPos, enc.dstPos, enc.records], [0, 7, 0]);
    // exactly one record's room: the first fits, the second is FULL
    const one = TIME_LEN + 6 + 2;
    assert.equal(enc.encode(two, 0, two.length, dst, 0, one, TIME, 1, 100), STOP_FULL);
    assert.deepEqual([enc.srcPos, enc.dstPos, enc.records], [3, one, 1]);
    assert.equal(enc.encode(two, 0, two.length, dst, 0, one - 1, TIME, 1, 100), STOP_FULL);
    assert.deepEqual([enc.srcPos, enc.dstPos, enc.records], [0, 0, 0]);
    assert.equal(enc.encode(two, 0, two.length, dst, 5, 5 + 2 * one - 1, TIME, 1, 100), STOP_FULL);
    assert.deepEqual([enc.srcPos, enc.dstPos, enc.records], [3, 5 + one, 1]);
    // a line to escape needs room for its largest record (4 bytes a byte), then is written
    const tab = Buffer.from("a\tb\n");
    const worst = TIME_LEN + 5 + 4 * 3 + 1;
    assert.equal(enc.encode(tab, 0, tab.length, dst, 0, worst - 1, TIME, 1, 100), STOP_FULL);
    assert.deepEqual([enc.srcPos, enc.dstPos, enc.records, enc.slowEnd], [0, 0, 0, -1]);
    assert.equal(enc.encode(tab, 0, tab.length, dst, 0, worst, TIME, 1, 100), STOP_DONE);
    assert.deepEqual([enc.srcPos, enc.records, enc.escaped], [4, 1, 1]);
    assert.equal(dst.toString("latin1", 0, enc.dstPos), `${TIME} 1 . a\\tb\n`);

    const lim = Buffer.from("\na\nab\n");
    assert.equal(enc.encode(lim, 0, lim.length, dst, 0, dst.length, TIME, 1, 0), STOP_SLOW);
    assert.deepEqual([enc.srcPos, enc.slowEnd, enc.records], [1, 2, 1]);
    assert.equal(enc.encode(lim, 0, lim.length, dst, 0, dst.length, TIME, 1, 1), STOP_SLOW);
    assert.deepEqual([enc.srcPos, enc.slowEnd, enc.records], [3, 5, 2]);
  });

  test("hostile: 100,000 short lines to escape are written in one call, copied in once", () => {
    const lines = 100_000;
    const src = Buffer.from("\t\n".repeat(lines / 2) + "x\\\n".repeat(lines / 2), "latin1");
    const dst = Buffer.alloc(8 << 20);
    const before = enc.bytesIn;
    assert.equal(enc.encode(src, 0, src.length, dst, 0, dst.length, TIME, 1, 100), STOP_DONE);
    assert.deepEqual([enc.records, enc.escaped, enc.srcPos], [lines, lines, src.length]);
    assert.ok(enc.bytesIn - before <= 2 * src.length, `${enc.bytesIn - before} bytes copied in`);
    assert.ok(dst.subarray(0, enc.dstPos).equals(jsPath(src, 1).out));
  });

  test("hostile: a run of short lines over the limit costs a small copy each, not a window", () => {
    const lines = 100_000;
    const src = Buffer.from("abc\n".repeat(lines));
    const dst = Buffer.alloc(1 << 16);
    const before = enc.bytesIn;
    let s = 0;
    let slow = 0;
    while (enc.encode(src, s, src.length, dst, 0, dst.length, TIME, 1, 2) === STOP_SLOW) {
      slow++;
      s = enc.slowEnd + 1;
    }
    assert.equal(slow, lines);
    // a whole window per line would be ~10^10 bytes
    assert.ok(enc.bytesIn - before <= lines * 4096, `${enc.bytesIn - before} bytes copied in`);
    // and after them, plain lines go back to whole windows
    const plain = Buffer.from("plain line\n".repeat(50_000));
    const at = enc.bytesIn;
    assert.equal(
      enc.encode(plain, 0, plain.length, Buffer.alloc(5 << 20), 0, 5 << 20, TIME, 1, 100),
      STOP_DONE,
    );
    assert.equal(enc.records, 50_000);
    assert.ok(enc.bytesIn - at <= 2 * plain.length);
  });

  test("hostile: a 10 MiB line, plain or not, with and without its LF, between short lines", () => {
    const big = plainRun(10 << 20, 3);
    const src = Buffer.concat([Buffer.from("x\n"), big, Buffer.from("\ny\n")]);
    const dst = Buffer.alloc(1 << 16);
    assert.equal(enc.encode(src, 0, src.length, dst, 0, dst.length, TIME, 1, 20 << 20), STOP_SLOW);
    assert.deepEqual([enc.srcPos, enc.slowEnd, enc.records], [2, 2 + big.length, 1]);
    assert.equal(enc.encode(src, enc.slowEnd + 1, src.length, dst, 0, dst.length, TIME, 3, 100), STOP_DONE);
    assert.deepEqual([enc.srcPos, enc.records], [src.length, 1]);
    // without its LF: nothing to do yet
    assert.equal(enc.encode(src, 2, 2 + big.length, dst, 0, dst.length, TIME, 2, 20 << 20), STOP_DONE);
    assert.deepEqual([enc.srcPos, enc.records, enc.slowEnd], [2, 0, -1]);
    // a backslash at its very end
    big[big.length - 1] = 0x5c;
    assert.equal(enc.encode(src, 2, src.length, dst, 0, dst.length, TIME, 2, 20 << 20), STOP_SLOW);
    assert.equal(enc.slowEnd, 2 + big.length);
    assertSameAsJs([Buffer.from("x\n"), big, Buffer.from("\ny\n")], [5 << 20], 1, 1 << 30, [1 << 16]);
  });

  test("refuses bad ranges, time, seq and limit instead of reading or writing outside them", () => {
    const src = Buffer.from("a\n");
    const dst = Buffer.alloc(100);
    const bad: Array<() => unknown> = [
      () => enc.encode(src, 0, 3, dst, 0, 100, TIME, 1, 10),
      () => enc.encode(src, 2, 1, dst, 0, 100, TIME, 1, 10),
      () => enc.encode(src, -1, 2, dst, 0, 100, TIME, 1, 10),
      () => enc.encode(src, 0, 2, dst, 0, 101, TIME, 1, 10),
      () => enc.encode(src, 0, 2, dst, 50, 40, TIME, 1, 10),
      () => enc.encode(src, 0, 2, dst, 0, 100, TIME.subarray(1), 1, 10),
      () => enc.encode(src, 0, 2, dst, 0, 100, TIME, -1, 10),
      () => enc.encode(src, 0, 2, dst, 0, 100, TIME, 0.5, 10),
      () => enc.encode(src, 0, 2, dst, 0, 100, TIME, Number.MAX_SAFE_INTEGER, 10),
      () => enc.encode(src, 0, 2, dst, 0, 100, TIME, Number.MAX_SAFE_INTEGER - 1, 10),
      () => enc.encode(src, 0, 2, dst, 0, 100, TIME, 1, -1),
      () => enc.encode(src, 0, 2, dst, 0, 100, TIME, 1, Number.NaN),
    ];
    for (const f of bad) assert.throws(f, RangeError);
  });

  test("the raw kernel clamps wild addresses to its own areas (no trap, nothing outside written)", () => {
    const instance = new WebAssembly.Instance(
      new WebAssembly.Module(Buffer.from(LINE_KERNEL_WASM_BASE64, "base64")),
      {},
    );
    const x = instance.exports as unknown as {
      memory: WebAssembly.Memory;
      encode: (a: number, b: number, c: number, d: number, s: number, l: number) => number;
    };
    const mem = new Uint8Array(x.memory.buffer);
    mem.fill(0x0a);
    const r = x.encode(0, -1, 0, -1, 1, -1);
    assert.ok(r >= 0 && r <= 2);
    assert.ok(x.encode(-1, 0, -1, 0, 1e300, 0) >= 0);
    assert.equal(x.memory.buffer.byteLength, mem.length, "memory never grows");
  });

  test("without WebAssembly (or without SIMD, or with other bytes) the caller is told to use JS", () => {
    assert.equal(createLineEncoder(Buffer.from("not wasm")), null);
    // a valid module that is not the kernel
    assert.equal(createLineEncoder(Buffer.from("AGFzbQEAAAA=", "base64")), null);
    const saved = globalThis.WebAssembly;
    try {
      Object.defineProperty(globalThis, "WebAssembly", {
        value: undefined,
        configurable: true,
        writable: true,
      });
      assert.equal(createLineEncoder(), null);
    } finally {
      Object.defineProperty(globalThis, "WebAssembly", { value: saved, configurable: true, writable: true });
    }
    assert.ok(createLineEncoder());
  });

  test("in an engine without WebAssembly (node --jitless) the factory returns null", () => {
    // Node strips TypeScript with WebAssembly itself, so the module runs as a JS bundle there,
    // as it does from dist/
    const dir = tempDir();
    const entry = join(dir, "entry.ts");
    writeFileSync(
      entry,
      `import { createLineEncoder } from ${JSON.stringify(join(ROOT, "src/store/line-kernel.ts"))};\n` +
        "console.log(typeof WebAssembly, createLineEncoder() === null);\n",
    );
    const out = join(dir, "entry.mjs");
    buildSync({
      entryPoints: [entry],
      bundle: true,
      format: "esm",
      platform: "node",
      outfile: out,
      logLevel: "error",
    });
    const run = spawnSync(process.execPath, ["--jitless", out], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), "undefined true");
  });
});
