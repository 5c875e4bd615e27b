import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { FramingError, OffsetBatch } from "../src/wire/framer.ts";
import { LineFramer } from "../src/wire/lines.ts";
import { OctetFramer } from "../src/wire/octets.ts";
import { chunks } from "./helpers/chunks.ts";
import { collector, type Out } from "./helpers/sink.ts";

const recordText = fc.string({
  unit: fc.constantFrom("a", "b", "\r", "\0", "\xff", " ", "é"),
  maxLength: 40,
});

describe("lines framer", () => {
  test("any chunking gives the same records; long lines are cut once and reported; a last line without LF is unterminated", () => {
    fc.assert(
      fc.property(
        fc.array(recordText, { maxLength: 30 }),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.integer({ min: 1, max: 20 }),
        (records, finalLf, cuts, limit) => {
          const text = records.join("\n") + (finalLf && records.length > 0 ? "\n" : "");
          const bytes = Buffer.from(text, "latin1");
          const { sink, out } = collector();
          const f = new LineFramer(limit, sink);
          for (const c of chunks(bytes, cuts)) f.push(c);
          f.end();
          // a text ending in LF has no record after that LF
          const lines = text.length === 0 ? [] : (text.endsWith("\n") ? text.slice(0, -1) : text).split("\n");
          const want: Out[] = lines.map((l) =>
            l.length > limit ? { cut: l.slice(0, limit), length: l.length } : { data: l },
          );
          // ...and a text that does not end in LF ends with an unterminated record
          if (text.length > 0 && !text.endsWith("\n")) {
            const l = lines.at(-1)!;
            want[want.length - 1] = { unterminated: l.slice(0, limit), length: l.length };
          }
          assert.deepEqual(out, want);
          assert.equal(f.buffered, 0);
        },
      ),
      { numRuns: 2000 },
    );
  });

  test("a 100 MB line never makes the framer hold more than the limit", () => {
    const { sink, out } = collector();
    const f = new LineFramer(64 * 1024, sink);
    const block = Buffer.alloc(1024 * 1024, 0x41);
    for (let i = 0; i < 100; i++) {
      f.push(block);
      assert.ok(f.buffered <= 64 * 1024);
    }
    f.push(Buffer.from("\nnext\n"));
    assert.equal(out.length, 2);
    assert.deepEqual((out[0] as { length: number }).length, 100 * 1024 * 1024);
    assert.equal((out[0] as { cut: string }).cut.length, 64 * 1024);
    assert.deepEqual(out[1], { data: "next" });
  });
});

describe("octets framer", () => {
  test("any chunking gives the same records; long records are cut and skipped, not reframed", () => {
    fc.assert(
      fc.property(
        fc.array(
          recordText.filter((s) => s.length > 0),
          { maxLength: 30 },
        ),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.integer({ min: 1, max: 20 }),
        (records, cuts, limit) => {
          const bytes = Buffer.concat(
            records.map((r) => Buffer.from(`${Buffer.byteLength(r, "latin1")} ${r}`, "latin1")),
          );
          const { sink, out } = collector();
          const f = new OctetFramer(limit, sink);
          for (const c of chunks(bytes, cuts)) f.push(c);
          f.end();
          assert.deepEqual(
            out,
            records.map((r) =>
              r.length > limit ? { cut: r.slice(0, limit), length: r.length } : { data: r },
            ),
          );
        },
      ),
      { numRuns: 2000 },
    );
  });

  test("lying octet counts are protocol errors, after the records before them", () => {
    for (const [input, why] of [
      ["5 hello-5 x", /0x2d/],
      ["5 hello05 hello", /0x30/],
      ["5 helloabc", /0x61/],
      ["5 hello99999999999 x", /over/],
      ["5 hello2000000000 x", /over/],
      ["5 hello\n5 hello", /0x0a/],
      ["5 hello 5 hello", /0x20/],
    ] as const) {
      const { sink, out } = collector();
      const f = new OctetFramer(100, sink);
      assert.throws(
        () => f.push(Buffer.from(input)),
        (e: unknown) => e instanceof FramingError && why.test(e.message),
        input,
      );
      assert.deepEqual(out, [{ data: "hello" }], input);
    }
  });

  test("a stream that ends inside a record or a length is reported", () => {
    for (const input of ["10 short", "12"]) {
      const { sink } = collector();
      const f = new OctetFramer(100, sink);
      f.push(Buffer.from(input));
      assert.throws(() => f.end(), FramingError);
    }
  });
});

test("an offset batch holds no array until its first record, then flushes when full", () => {
  const batch = new OffsetBatch(2);
  assert.equal(batch.offsets.length, 0); // 500 idle sessions held 32 KiB each for nothing
  const got: number[][] = [];
  const sink = {
    records: (_b: Buffer, o: Uint32Array, n: number) => got.push([...o.subarray(0, 2 * n)]),
    truncated: () => {},
    unterminated: () => {},
  };
  batch.add(0, 3);
  assert.equal(batch.full, false);
  batch.add(4, 6);
  assert.equal(batch.full, true);
  batch.flush(sink, Buffer.alloc(8));
  assert.deepEqual(got, [[0, 3, 4, 6]]);
  assert.equal(batch.count, 0);
});
