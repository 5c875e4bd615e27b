import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { escapePayload, unescapePayload } from "../src/store/escape.ts";
import { formatTime, parseLine, parseTime, writeDecimal } from "../src/store/record.ts";

describe("record lines", () => {
  test("formatTime/parseTime round trip at microsecond precision", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8_000_000_000_000_000 }), (us) => {
        const t = formatTime(us);
        assert.match(t, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
        assert.equal(parseTime(t), us);
      }),
    );
    assert.equal(formatTime(1_764_000_000_123_456), "2025-11-24T16:00:00.123456Z");
  });

  test("times compare as strings in the same order as numbers", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4e15 }), fc.integer({ min: 0, max: 4e15 }), (a, b) => {
        assert.equal(Math.sign(formatTime(a).localeCompare(formatTime(b), "en")), Math.sign(a - b) || 0);
        assert.equal(formatTime(a) < formatTime(b), a < b);
      }),
    );
  });

  test("parseLine reads what the writer writes, for any payload", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 1, max: 2 ** 50 }), (payload, seq) => {
        const line = Buffer.concat([
          Buffer.from(`2026-11-24T09:16:19.123456Z ${seq} . `),
          escapePayload(payload),
        ]);
        const p = parseLine(line, 0, line.length);
        assert.ok(p);
        assert.equal(p.seq, seq);
        assert.equal(p.kind, ".");
        assert.deepEqual(new Uint8Array(unescapePayload(line, p.payloadStart, p.payloadEnd)), payload);
      }),
    );
  });

  test("no sender payload can forge a collector record or a second line", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (payload) => {
        const forged = Buffer.concat([
          Buffer.from("x\n2026-11-24T09:16:19.123456Z 9 !gap count=0\n"),
          payload,
        ]);
        const line = Buffer.concat([Buffer.from("2026-11-24T09:16:19.123456Z 5 . "), escapePayload(forged)]);
        assert.equal(line.indexOf(0x0a), -1);
        assert.equal(parseLine(line, 0, line.length)?.kind, ".");
      }),
    );
  });

  test("parseLine refuses damaged lines", () => {
    for (const bad of [
      "",
      "2026-11-24T09:16:19.123456Z",
      "2026-11-24T09:16:19.123456Z 1 .",
      "2026-11-24T09:16:19.12345Z 1 . x",
      "2026-11-24T09:16:19.123456Z 0 . x",
      "2026-11-24T09:16:19.123456Z 01 . x",
      "2026-11-24T09:16:19.123456Z x . x",
      "2026-11-24T09:16:19.123456Z 1 ? x",
      "2026-11-24T09:16:19.123456Z 1 !GAP x",
      "2026-11-24T09:16:19.123456Z 1 .@ x",
      "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
    ]) {
      const b = Buffer.from(bad);
      assert.equal(parseLine(b, 0, b.length), null, JSON.stringify(bad));
    }
    const ok = Buffer.from("2026-11-24T09:16:19.123456Z 12 !open@c1 session=1");
    assert.deepEqual(
      { ...parseLine(ok, 0, ok.length) },
      {
        time: "2026-11-24T09:16:19.123456Z",
        seq: 12,
        kind: "!open",
        ref: "c1",
        payloadStart: 40,
        payloadEnd: 49,
      },
    );
  });

  test("writeDecimal writes integers exactly", () => {
    const b = Buffer.alloc(32);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => {
        const end = writeDecimal(b, 3, n);
        assert.equal(b.toString("latin1", 3, end), String(n));
      }),
    );
  });
});

test("formatTime gives toISOString's text with six fraction digits, across seconds in any order", () => {
  // formatTime keeps the text of the last second it formatted: a cache must never leak into
  // another second, backwards or forwards
  const reference = (us: number) => {
    const ms = Math.floor(us / 1000);
    const micros = us - ms * 1000;
    return `${new Date(ms).toISOString().slice(0, 23)}${String(micros).padStart(3, "0")}Z`;
  };
  fc.assert(
    fc.property(
      // up to year 2223 (microseconds stay exact integers), seconds near each other and far apart
      fc.array(
        fc
          .tuple(fc.integer({ min: 0, max: 8_000_000 }), fc.integer({ min: 0, max: 999_999_999 }))
          .map(([hi, lo]) => hi * 1e9 + lo),
        { maxLength: 20 },
      ),
      (times) => {
        for (const us of times) {
          assert.equal(formatTime(us), reference(us));
          assert.equal(formatTime(us + 1), reference(us + 1));
        }
      },
    ),
    { numRuns: 2000 },
  );
  for (const us of [0, 999_999, 1_000_000, 1_764_150_979_000_001, 1_764_150_979_999_999])
    assert.equal(formatTime(us), reference(us));
});
