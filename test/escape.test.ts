import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  escapePayload,
  isDisplaySafe,
  isPrintableLines,
  plainRunEnd,
  unescapePayload,
} from "../src/store/escape.ts";

// A deliberately simple reference: decode code point by code point with TextDecoder-free logic.
function referenceEscape(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  const hex2 = (b: number) => `\\x${b.toString(16).padStart(2, "0")}`;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b === 0x5c) out += "\\\\";
    else if (b === 0x09) out += "\\t";
    else if (b === 0x0a) out += "\\n";
    else if (b === 0x0d) out += "\\r";
    else if (b < 0x20 || b === 0x7f) out += hex2(b);
    else if (b < 0x80) out += String.fromCharCode(b);
    else {
      // try to decode one well-formed UTF-8 sequence with the platform's strict decoder
      let len = 0;
      for (const n of [2, 3, 4]) {
        if (i + n > bytes.length) break;
        try {
          const s = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(i, i + n));
          if ([...s].length === 1 && Buffer.from(s, "utf8").length === n) {
            len = n;
            break;
          }
        } catch {}
      }
      if (len === 0) out += hex2(b);
      else {
        const s = Buffer.from(bytes.subarray(i, i + len)).toString("utf8");
        const cp = s.codePointAt(0)!;
        const dangerous =
          (cp >= 0x80 && cp <= 0x9f) ||
          cp === 0x61c ||
          cp === 0x200e ||
          cp === 0x200f ||
          (cp >= 0x2028 && cp <= 0x202e) ||
          (cp >= 0x2066 && cp <= 0x2069);
        out += dangerous ? `\\u${cp.toString(16).padStart(4, "0")}` : s;
        i += len;
        continue;
      }
    }
    i++;
  }
  return out;
}

// bytes biased towards the interesting parts: controls, backslash, UTF-8 lead and continuation bytes
const hostileByte = fc.oneof(
  fc.integer({ min: 0, max: 255 }),
  fc.constantFrom(0x00, 0x0a, 0x0d, 0x1b, 0x5c, 0x7f, 0x80, 0x9b, 0xc2, 0xe2, 0xed, 0xf0, 0xf4, 0xff),
);
const hostileBytes = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.array(hostileByte, { maxLength: 300 }).map((a) => Uint8Array.from(a)),
  fc.string({ unit: "binary", maxLength: 100 }).map((s) => new Uint8Array(Buffer.from(s, "utf8"))),
);
// misaligned views into a larger buffer, to exercise the 4-byte scanning path
const viewOf = (bytes: Uint8Array, shift: number) => {
  const big = new Uint8Array(bytes.length + 8);
  big.set(bytes, shift);
  return big.subarray(shift, shift + bytes.length);
};

describe("escape", () => {
  test("round trip: unescape(escape(b)) equals b for every byte string", () => {
    fc.assert(
      fc.property(hostileBytes, fc.integer({ min: 0, max: 7 }), (bytes, shift) => {
        const view = viewOf(bytes, shift);
        assert.deepEqual(new Uint8Array(unescapePayload(escapePayload(view))), bytes);
      }),
      { numRuns: 3000 },
    );
  });

  test("matches the simple reference escaper", () => {
    fc.assert(
      fc.property(hostileBytes, fc.integer({ min: 0, max: 7 }), (bytes, shift) => {
        assert.equal(escapePayload(viewOf(bytes, shift)).toString("utf8"), referenceEscape(bytes));
      }),
      { numRuns: 3000 },
    );
  });

  test("no escaped payload contains a forbidden raw byte or code point", () => {
    fc.assert(
      fc.property(hostileBytes, (bytes) => {
        const e = escapePayload(bytes);
        for (const b of e) assert.ok(b >= 0x20 && b !== 0x7f, `raw byte ${b} in escaped output`);
        const s = e.toString("utf8");
        assert.ok(Buffer.from(s, "utf8").equals(e), "escaped output is valid UTF-8");
        assert.doesNotMatch(s, /[\u0080-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/u);
        assert.ok(isDisplaySafe(e, 0, e.length));
      }),
      { numRuns: 3000 },
    );
  });

  test("valid text in any script is kept as is", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 80 }), (s) => {
        const clean = s.replace(
          /[\u0000-\u001f\u007f-\u009f\\\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/gu,
          "",
        );
        assert.equal(escapePayload(Buffer.from(clean, "utf8")).toString("utf8"), clean);
      }),
    );
    const samples = "Grüße, 日本語のログ, Ελληνικά, עברית, العربية, emoji 🦊 and 👩‍💻";
    assert.equal(escapePayload(Buffer.from(samples)).toString(), samples);
  });

  test("each dangerous byte or character has the documented escape", () => {
    const cases: [number[], string][] = [
      [[0x1b, 0x5b, 0x33, 0x31, 0x6d], "\\x1b[31m"],
      [[0x0a], "\\n"],
      [[0x0d], "\\r"],
      [[0x09], "\\t"],
      [[0x00], "\\x00"],
      [[0x7f], "\\x7f"],
      [[0x5c], "\\\\"],
      [[0xc2, 0x9b], "\\u009b"], // C1 CSI
      [[0xe2, 0x80, 0xae], "\\u202e"], // right-to-left override
      [[0xe2, 0x81, 0xa6], "\\u2066"], // left-to-right isolate
      [[0xe2, 0x80, 0xa8], "\\u2028"],
      [[0xff], "\\xff"],
      [[0xc0, 0xaf], "\\xc0\\xaf"], // overlong "/"
      [[0xed, 0xa0, 0x80], "\\xed\\xa0\\x80"], // surrogate
      [[0xf4, 0x90, 0x80, 0x80], "\\xf4\\x90\\x80\\x80"], // past U+10FFFF
      [[0xe2, 0x82], "\\xe2\\x82"], // truncated sequence
    ];
    for (const [bytes, want] of cases) assert.equal(escapePayload(Uint8Array.from(bytes)).toString(), want);
  });

  test("plainRunEnd finds the first non-plain byte at every alignment", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 64 }),
        fc.integer({ min: 0, max: 7 }),
        (bytes, shift) => {
          const view = viewOf(bytes, shift);
          let want = bytes.findIndex((b) => b < 0x20 || b > 0x7e || b === 0x5c);
          if (want === -1) want = bytes.length;
          assert.equal(plainRunEnd(view, 0, view.length), want);
        },
      ),
      { numRuns: 5000 },
    );
  });

  test("isPrintableLines is true exactly for printable ASCII and LF, and then every line is display-safe", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.constantFrom(0x20, 0x41, 0x5c, 0x7e, 0x0a),
        (bytes, filler) => {
          // mostly-printable blocks too, so that both answers are common
          const printable = Buffer.from(bytes.map((b) => (b % 5 === 0 ? b : filler)));
          for (const buf of [Buffer.from(bytes), printable]) {
            const want = buf.every((b) => b === 0x0a || (b >= 0x20 && b <= 0x7e));
            const from = buf.length > 4 ? 2 : 0;
            const to = buf.length > 4 ? buf.length - 1 : buf.length;
            const got = isPrintableLines(buf, from, to);
            assert.equal(
              got,
              buf.subarray(from, to).every((b) => b === 0x0a || (b >= 0x20 && b <= 0x7e)),
            );
            if (isPrintableLines(buf, 0, buf.length)) {
              assert.ok(want);
              for (const line of buf.toString("latin1").split("\n")) {
                const l = Buffer.from(line, "latin1");
                assert.ok(isDisplaySafe(l, 0, l.length));
              }
            }
          }
        },
      ),
      { numRuns: 500 },
    );
    for (const bad of ["\x1b[31m", "\u202e", "caf\u00e9", "\x7f", "\r", "\t"]) {
      const buf = Buffer.from(`2026 ok\n${bad}\n`, "utf8");
      assert.equal(isPrintableLines(buf, 0, buf.length), false, JSON.stringify(bad));
    }
  });

  test("isDisplaySafe rejects raw dangerous content", () => {
    for (const bad of ["\x1b]0;pwned\x07", "a\nb", "\u202e", "\u0085", "\r"]) {
      const b = Buffer.from(bad, "utf8");
      assert.equal(isDisplaySafe(b, 0, b.length), false, JSON.stringify(bad));
    }
    assert.equal(isDisplaySafe(Buffer.from([0xff]), 0, 1), false);
  });

  test("malformed escapes in a damaged line are kept literally", () => {
    assert.equal(unescapePayload(Buffer.from("a\\qb\\x4")).toString("latin1"), "a\\qb\\x4");
    assert.equal(unescapePayload(Buffer.from("\\u00zz")).toString("latin1"), "\\u00zz");
  });
});
