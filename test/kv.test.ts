// The key=value payload codec (src/store/kv.ts): what the collector and the policy engine write
// is what `alerts` reads back, however hostile the value.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { escapePayload, unescapePayload } from "../src/store/escape.ts";
import { encodeKeyValues, kvMicros, kvValue, parseKeyValues } from "../src/store/kv.ts";

const HOSTILE = [
  "",
  "plain",
  "two words",
  " leading and trailing ",
  "a=b",
  "=",
  "k=v x=y",
  'say "hi"',
  '"',
  '"unterminated',
  "back\\slash",
  "\\",
  '\\"',
  "tab\there",
  "new\nline",
  "cr\rlf\n",
  "nul\u0000byte",
  "bell\u0007esc\u001b[31m",
  "del\u007f c1\u0085 bidi\u202e",
  "nbsp\u00a0ls\u2028",
  "caf\u00e9 \u{1f600}",
  Buffer.from([0xff, 0xfe, 0x80, 0x41, 0xc3]).toString("utf8"), // non-UTF-8 bytes, as a reader decodes them
  Buffer.from([0xff, 0xfe, 0x80, 0x41, 0x3d, 0x22]).toString("latin1"),
  "message=forged origin=x",
  'x" alert=forged "',
];

test("every hostile value comes back as written, bare or quoted", () => {
  for (const value of HOSTILE) {
    const text = encodeKeyValues([
      ["alert", "quota"],
      ["origin", value],
      ["message", value],
    ]);
    assert.deepEqual({ ...parseKeyValues(text) }, { alert: "quota", origin: value, message: value }, text);
  }
});

test("a round trip through the stored bytes (UTF-8, escaped, unescaped) keeps every value", () => {
  for (const value of HOSTILE) {
    const text = encodeKeyValues([
      ["alert", "x"],
      ["message", value],
    ]);
    const stored = escapePayload(Buffer.from(text, "utf8"));
    assert.equal(stored.indexOf(0x0a), -1, "a stored payload never holds a newline");
    const back = unescapePayload(stored).toString("utf8");
    assert.equal(parseKeyValues(back).message, value, JSON.stringify(value));
  }
});

test("values are bare only when they have no space, quote or '='", () => {
  assert.equal(kvValue("abc"), "abc");
  assert.equal(kvValue(42), "42");
  assert.equal(kvValue("a b"), '"a b"');
  assert.equal(kvValue("a=b"), '"a=b"');
  assert.equal(kvValue('a"b'), '"a\\"b"');
  assert.equal(kvValue(""), '""');
  assert.equal(kvValue("a\\b"), "a\\b");
  assert.equal(kvMicros(1500), "1500us");
});

test("any string round-trips (property)", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" }), (a, b) => {
      const back = parseKeyValues(
        encodeKeyValues([
          ["a_b", a],
          ["c", b],
        ]),
      );
      assert.equal(back.a_b, a);
      assert.equal(back.c, b);
    }),
  );
});

test("malformed text is skipped or kept literally, never thrown", () => {
  assert.deepEqual({ ...parseKeyValues('a="\\x" b=ok c') }, { a: '"\\x"', b: "ok" });
  assert.deepEqual({ ...parseKeyValues("") }, {});
  assert.equal(parseKeyValues("constructor=x").constructor, "x");
});
