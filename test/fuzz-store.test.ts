// Fuzzing what the store parses back (issue 21, "Fuzzing and property tests"): the record line
// (store/record.ts, its full parser and recovery's fast check, which must agree), escape and
// unescape (store/escape.ts) beyond the round trip test/escape.test.ts shows, the key=value
// payloads (store/kv.ts), a stream's index.json (store/segment.ts) and run/policy.json
// (store/policy-state.ts). Damaged or hostile bytes give null, "not a record" or the
// documented LogwardError, never another exception, and never a value of the wrong type.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import fc from "fast-check";
import { LogwardError } from "../src/errors.ts";
import {
  ESCAPE_EXPANSION,
  escapeInto,
  escapePayload,
  escapeText,
  isDisplaySafe,
  unescapePayload,
} from "../src/store/escape.ts";
import { encodeKeyValues, parseKeyValues } from "../src/store/kv.ts";
import { indexPath } from "../src/store/layout.ts";
import { parsePolicyState } from "../src/store/policy-state.ts";
import { checkLineHead, formatTime, parseLine, parseTime } from "../src/store/record.ts";
import { readIndex } from "../src/store/segment.ts";
import { crashers, rejected, runs } from "./helpers/fuzz.ts";

/** A stored line, well formed or damaged: a valid one with bytes changed, added or cut. */
const storedLine = fc
  .tuple(
    fc.integer({ min: 0, max: 8e15 }),
    fc.oneof(fc.integer({ min: 1, max: 2 ** 53 - 1 }), fc.constant(0)),
    fc.constantFrom(".", "!open", "!gap", "!seal", ".@ref", "!", "!Open", "@x", ".@"),
    fc.uint8Array({ maxLength: 60 }),
    fc.array(
      fc.record({
        at: fc.nat(),
        byte: fc.constantFrom(0x20, 0x30, 0x39, 0x21, 0x40, 0x2e, 0x0a, 0x00, 0xff),
      }),
      {
        maxLength: 3,
      },
    ),
  )
  .map(([us, seq, kind, payload, edits]) => {
    const seqText = seq === 0 ? "9999999999999999" : String(seq);
    const line = [
      ...Buffer.concat([Buffer.from(`${formatTime(us)} ${seqText} ${kind} `), escapePayload(payload)]),
    ];
    for (const e of edits) if (line.length > 0) line[e.at % line.length] = e.byte;
    return Buffer.from(line);
  });

describe("the record line", () => {
  test("parseLine and recovery's checkLineHead never throw, agree, and give a safe seq", () => {
    const check = (line: Buffer) => {
      const p = parseLine(line, 0, line.length);
      const h = checkLineHead(line, 0, line.length);
      if (p) {
        assert.ok(Number.isSafeInteger(p.seq) && p.seq >= 1, `seq ${p.seq}`);
        assert.ok(p.payloadStart <= p.payloadEnd && p.payloadEnd === line.length);
        assert.ok(h, "the full parser takes a line the fast check refuses");
        assert.equal(h.seq, p.seq);
        assert.equal(h.payloadStart, p.payloadStart);
      }
      if (h) assert.ok(Number.isSafeInteger(h.seq) && h.seq >= 1, `seq ${h.seq}`);
    };
    for (const { bytes } of crashers("record")) check(bytes);
    fc.assert(
      fc.property(
        fc.oneof(
          storedLine,
          fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a)),
        ),
        check,
      ),
      runs(5000),
    );
  });

  test("a receive time that parses is one formatTime writes back", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-6]\d\.\d{6}Z$/), (t) => {
        const us = parseTime(t);
        if (!Number.isNaN(us) && us >= 0) assert.equal(formatTime(us).slice(0, 4), t.slice(0, 4));
      }),
      runs(3000),
    );
  });
});

describe("escape and unescape", () => {
  const anyBytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));

  test("unescape takes any bytes (a damaged payload) without throwing; escape of it is display-safe", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          anyBytes,
          fc
            .string({ unit: fc.constantFrom("\\", "x", "u", "{", "}", "0", "f", "t", "n", "é") })
            .map((s) => Buffer.from(s)),
        ),
        (b) => {
          const raw = unescapePayload(b);
          const again = escapePayload(raw);
          assert.ok(isDisplaySafe(again, 0, again.length));
          assert.deepEqual(unescapePayload(again), raw);
        },
      ),
      runs(5000),
    );
  });

  test("escapeInto at any offset writes what escapePayload writes, within ESCAPE_EXPANSION", () => {
    fc.assert(
      fc.property(anyBytes, fc.nat(300), fc.nat(300), fc.nat(20), (b, x, y, at) => {
        const s = Math.min(x, y) % (b.length + 1);
        const e = Math.max(s, Math.max(x, y) % (b.length + 1));
        const dst = new Uint8Array(at + ESCAPE_EXPANSION * (e - s));
        const end = escapeInto(b, s, e, dst, at);
        assert.ok(end - at <= ESCAPE_EXPANSION * (e - s));
        assert.deepEqual(Buffer.from(dst.subarray(at, end)), escapePayload(b.subarray(s, e)));
      }),
      runs(3000),
    );
  });

  test("escapeText of any string is what escapePayload makes of its UTF-8", () => {
    // escapeText need not be reversible, so a backslash stays one (src/store/escape.ts); the
    // stored escape doubles it, and no other escape makes two in a row. The property missed
    // that for as long as fast-check drew no backslash (CI, seed -2106651687: "\\").
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 80 }), (s) => {
        const stored = escapePayload(Buffer.from(s, "utf8")).toString("utf8");
        assert.equal(escapeText(s), stored.replaceAll("\\\\", "\\"));
        if (!s.includes("\\")) assert.equal(escapeText(s), stored);
      }),
      { ...runs(3000), examples: [["\\"], ["\\\u001b"], ["x\\x1b\\"], ["\\\\"]] },
    );
  });
});

describe("key=value payloads", () => {
  test("any text parses without throwing into own string values; encoded pairs come back", () => {
    const key = fc.stringMatching(/^[a-z_]{1,8}$/);
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom("a", "=", '"', "\\", " ", "_", "u", "\n", "\x1b") }),
        fc.uniqueArray(fc.tuple(key, fc.string({ unit: "binary", maxLength: 12 })), {
          selector: ([k]) => k,
          maxLength: 5,
        }),
        (text, pairs) => {
          const kv = parseKeyValues(text);
          for (const v of Object.values(kv)) assert.equal(typeof v, "string");
          const back = parseKeyValues(encodeKeyValues(pairs));
          for (const [k, v] of pairs) assert.equal(back[k], v);
        },
      ),
      runs(3000),
    );
  });
});

describe("index.json", () => {
  const dir = mkdtempSync(join(tmpdir(), "lw-fuzz-index-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const segment = fc.record(
    {
      file: fc.constantFrom(
        "00000000000000000001.log",
        "00000000000000000009.log.zst",
        "x.log",
        "../1.log",
        5,
      ),
      firstSeq: fc.oneof(fc.nat(), fc.string()),
      lastSeq: fc.oneof(fc.nat(), fc.double(), fc.constant(2 ** 60)),
      frames: fc.oneof(fc.constant("x"), fc.array(fc.record({ offset: fc.nat() }), { maxLength: 2 })),
    },
    { requiredKeys: [] },
  );
  const doc = fc.oneof(
    fc.jsonValue(),
    fc.record(
      {
        format: fc.oneof(fc.constantFrom(0, 1, 2, "1"), fc.double()),
        segments: fc.oneof(fc.array(fc.oneof(segment, fc.jsonValue()), { maxLength: 3 }), fc.jsonValue()),
        type: fc.oneof(fc.constantFrom("lines", "Lines", "", "a".repeat(40)), fc.jsonValue()),
      },
      { requiredKeys: [] },
    ),
  );

  test("any text: an index, null (rebuild it) or LW_STORE_VERSION; never another exception", async () => {
    const check = async (text: string) => {
      writeFileSync(indexPath(dir), text);
      let got: Awaited<ReturnType<typeof readIndex>> | undefined;
      const err = await rejected(async () => {
        got = await readIndex(dir);
      });
      if (err !== undefined) {
        assert.ok(err instanceof LogwardError && err.code === "LW_STORE_VERSION", String(err));
        return;
      }
      if (got === null) return;
      assert.ok(Array.isArray(got!.segments));
      assert.ok(got!.type === null || /^[a-z]{1,32}$/.test(got!.type));
      for (const s of got!.segments) {
        assert.equal(typeof s.file, "string");
        assert.ok(Number.isSafeInteger(s.lastSeq));
      }
    };
    for (const { bytes } of crashers("index")) await check(bytes.toString("utf8"));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          doc.map((d) => JSON.stringify(d)),
          doc.map((d) => JSON.stringify(d).slice(0, -1)),
          fc.string({ maxLength: 60 }),
        ),
        check,
      ),
      runs(800, { slow: true }),
    );
  });
});

describe("run/policy.json", () => {
  const entry = fc.record(
    {
      state: fc.constantFrom("ok", "near quota", "at quota", "refusing", "\x1b[2J", 5),
      bytes: fc.oneof(fc.nat(), fc.string()),
      quota: fc.oneof(fc.nat(), fc.constant(null), fc.string()),
      group: fc.oneof(fc.string(), fc.constant(null), fc.nat()),
    },
    { requiredKeys: [] },
  );
  const doc = fc.oneof(
    fc.jsonValue(),
    fc.record(
      {
        updated: fc.oneof(fc.string(), fc.nat()),
        disk: fc.oneof(fc.record({ free: fc.nat(), low: fc.boolean() }), fc.jsonValue()),
        origins: fc.oneof(
          fc.dictionary(fc.constantFrom("work", "__proto__", "constructor"), fc.oneof(entry, fc.jsonValue())),
          fc.jsonValue(),
        ),
      },
      { requiredKeys: [] },
    ),
  );

  test("any text: null or a document of the declared types; never a throw", () => {
    const check = (text: string) => {
      const s = parsePolicyState(text);
      if (s === null) return;
      assert.ok(typeof s.origins === "object" && s.origins !== null, "origins is not an object");
      for (const o of Object.values(s.origins)) {
        assert.ok(typeof o === "object" && o !== null, "an origin's entry is not an object");
        assert.ok(
          ["ok", "near quota", "at quota", "refusing"].includes(o.state),
          `state ${JSON.stringify(o.state)}`,
        );
        assert.ok(Number.isFinite(o.bytes), "bytes");
        assert.ok(o.quota === null || Number.isFinite(o.quota), "quota");
        assert.ok(o.group === null || typeof o.group === "string", "group");
      }
    };
    for (const { bytes } of crashers("policy-state")) check(bytes.toString("utf8"));
    fc.assert(
      fc.property(
        fc.oneof(
          doc.map((d) => JSON.stringify(d)),
          fc.string({ maxLength: 40 }),
        ),
        check,
      ),
      runs(3000),
    );
  });
});
