import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  type AgentGap,
  encodeAck,
  encodeAgentEnd,
  encodeGap,
  encodeHello,
  encodeRecord,
  encodeWelcome,
  type Hello,
  ReplyDecoder,
} from "../src/wire/agent.ts";
import { AgentDecoder, type AgentSink } from "../src/wire/agent-decoder.ts";
import { FramingError } from "../src/wire/framer.ts";
import { JournalFramer, type JournalSink, RESUME_REQUEST } from "../src/wire/journal.ts";
import { chunks } from "./helpers/chunks.ts";

type Field = { name: string; text: string } | { name: string; bin: Buffer };

function encodeField(f: Field): Buffer {
  if ("text" in f) return Buffer.from(`${f.name}=${f.text}\n`, "latin1");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(f.bin.length));
  return Buffer.concat([Buffer.from(`${f.name}\n`), len, f.bin, Buffer.from("\n")]);
}

function entryBytes(fields: Field[]): Buffer {
  return Buffer.concat(fields.map(encodeField));
}

interface JOut {
  payload: string;
  full: number;
  cursor: string | undefined;
}

function journalSink(): { sink: JournalSink; out: JOut[]; resume: { n: number } } {
  const out: JOut[] = [];
  const resume = { n: 0 };
  return {
    out,
    resume,
    sink: {
      entry: (p, full, cursor) => out.push({ payload: p.toString("latin1"), full, cursor }),
      resumeRequested: () => resume.n++,
    },
  };
}

const fieldArb: fc.Arbitrary<Field> = fc.oneof(
  fc.record({
    name: fc.constantFrom("MESSAGE", "PRIORITY", "_HOSTNAME", "__CURSOR"),
    text: fc.string({ unit: fc.constantFrom("a", "=", " ", "\x1b", "\xff", "é"), maxLength: 30 }),
  }),
  fc.record({
    name: fc.constantFrom("MESSAGE", "BLOB"),
    bin: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
  }),
);

describe("journal framer", () => {
  test("any chunking gives one record per entry, cut at the limit but never split", () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.array(fieldArb, { minLength: 1, maxLength: 6 }), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.integer({ min: 1, max: 120 }),
        (ask, entries, cuts, limit) => {
          const body = Buffer.concat(entries.map((e) => Buffer.concat([entryBytes(e), Buffer.from("\n")])));
          const bytes = ask ? Buffer.concat([RESUME_REQUEST, body]) : body;
          const { sink, out, resume } = journalSink();
          const f = new JournalFramer(limit, sink);
          for (const c of chunks(bytes, cuts)) f.push(c);
          f.end();
          assert.equal(resume.n, ask ? 1 : 0);
          assert.equal(f.incompleteBytes, 0);
          const want = entries.map((e) => {
            const b = entryBytes(e);
            // the cursor is the last __CURSOR text field with a usable value
            let cursor: string | undefined;
            for (const x of e)
              if ("text" in x && x.name === "__CURSOR")
                cursor = /^[\x21-\x7e]{1,256}$/.test(x.text) ? x.text : undefined;
            return { payload: b.subarray(0, limit).toString("latin1"), full: b.length, cursor };
          });
          assert.deepEqual(out, want);
        },
      ),
      { numRuns: 1500 },
    );
  });

  test("the resume request is recognised only at the very start", () => {
    const { sink, out, resume } = journalSink();
    const f = new JournalFramer(1000, sink);
    f.push(Buffer.from("A=1\n\n?resume\n"));
    assert.equal(resume.n, 0);
    // "?resume" later is a binary field name: its length bytes follow
    assert.equal(out.length, 1);
  });

  test("a text that only starts like the request is data", () => {
    const { sink, out, resume } = journalSink();
    const f = new JournalFramer(1000, sink);
    for (const c of ["?re", "x=1\n", "\n"]) f.push(Buffer.from(c));
    assert.equal(resume.n, 0);
    assert.deepEqual(out, [{ payload: "?rex=1\n", full: 7, cursor: undefined }]);
  });

  test("binary fields with wrong lengths are protocol errors, after the entries before them", () => {
    const good = Buffer.from("MESSAGE=ok\n\n");
    const len = (n: bigint) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(n);
      return b;
    };
    for (const [bad, why] of [
      [Buffer.concat([Buffer.from("BLOB\n"), len(2n), Buffer.from("abc\n\n")]), /length is wrong/],
      [Buffer.concat([Buffer.from("BLOB\n"), len(2n ** 63n), Buffer.from("x")]), /more than a journal field/],
      [Buffer.concat([Buffer.from("BLOB\n"), len(0xffffffffffffffffn)]), /more than a journal field/],
    ] as const) {
      const { sink, out } = journalSink();
      const f = new JournalFramer(1000, sink);
      assert.throws(
        () => f.push(Buffer.concat([good, bad])),
        (e: unknown) => e instanceof FramingError && why.test(e.message),
      );
      assert.equal(out.length, 1);
    }
  });

  test("an entry cut off by the end of the channel is not a record, and is counted", () => {
    for (const tail of ["MESSAGE=half", "MESSAGE=whole\n", "BLOB\n\x05\0\0\0\0\0\0\0ab"]) {
      const { sink, out } = journalSink();
      const f = new JournalFramer(1000, sink);
      f.push(Buffer.from(`__CURSOR=s=1\nMESSAGE=a\n\n__CURSOR=s=2\n${tail}`, "latin1"));
      f.end();
      assert.deepEqual(
        out.map((o) => o.cursor),
        ["s=1"],
      );
      assert.equal(f.incompleteBytes, Buffer.byteLength(`__CURSOR=s=2\n${tail}`, "latin1"));
    }
  });

  test("a 100 MB binary field keeps the framer within its limit and stays one record", () => {
    const { sink, out } = journalSink();
    const f = new JournalFramer(64 * 1024, sink);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(100 * 1024 * 1024));
    f.push(Buffer.concat([Buffer.from("__CURSOR=s=big\nBLOB\n"), len]));
    const block = Buffer.alloc(1024 * 1024, 0x41);
    for (let i = 0; i < 100; i++) {
      f.push(block);
      assert.ok(f.buffered <= 64 * 1024);
    }
    f.push(Buffer.from("\nMESSAGE=after\n\n"));
    assert.equal(out.length, 1);
    assert.equal(out[0]!.payload.length, 64 * 1024);
    assert.equal(out[0]!.cursor, "s=big");
    assert.ok(out[0]!.full > 100 * 1024 * 1024);
  });
});

type AOut =
  | { hello: Hello }
  | { seq: number; data: string }
  | { seq: number; cut: string; length: number }
  | { seq: number; unterminated: string; length: number }
  | { gap: AgentGap };

function agentSink(): { sink: AgentSink; out: AOut[] } {
  const out: AOut[] = [];
  return {
    out,
    sink: {
      hello: (hello) => out.push({ hello }),
      records: (buf, offsets, seqs, count) => {
        for (let k = 0; k < count; k++)
          out.push({ seq: seqs[k]!, data: buf.toString("latin1", offsets[2 * k], offsets[2 * k + 1]) });
      },
      truncated: (seq, kept, length) => out.push({ seq, cut: kept.toString("latin1"), length }),
      unterminated: (seq, kept, length) => out.push({ seq, unterminated: kept.toString("latin1"), length }),
      gap: (gap) => out.push({ gap }),
    },
  };
}

describe("agent protocol", () => {
  test("any chunking decodes the same frames; long records are cut, never reframed", () => {
    const item = fc.oneof(
      fc.record({
        data: fc.string({ unit: fc.constantFrom("a", "\n", "\0", "\xff"), maxLength: 40 }),
        unterminated: fc.boolean(),
      }),
      fc.record({ dropped: fc.nat(), firstUs: fc.integer(), lastUs: fc.integer() }),
    );
    fc.assert(
      fc.property(
        fc.array(item, { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.integer({ min: 0, max: 30 }),
        (items, cuts, limit) => {
          const hello = { stream: "app", spool: "s1" };
          const parts = [encodeHello(hello)];
          const want: AOut[] = [{ hello }];
          items.forEach((it, k) => {
            const seq = k + 1;
            if ("data" in it) {
              parts.push(encodeRecord(seq, Buffer.from(it.data, "latin1"), it.unterminated));
              want.push(
                it.unterminated
                  ? { seq, unterminated: it.data.slice(0, limit), length: it.data.length }
                  : it.data.length > limit
                    ? { seq, cut: it.data.slice(0, limit), length: it.data.length }
                    : { seq, data: it.data },
              );
            } else {
              const gap = { seq, ...it, dropped: 1 + (it.dropped % seq) };
              parts.push(encodeGap(gap));
              want.push({ gap });
            }
          });
          const { sink, out } = agentSink();
          const d = new AgentDecoder(limit, sink);
          for (const c of chunks(Buffer.concat(parts), cuts)) d.push(c);
          assert.equal(d.end(), 0);
          assert.deepEqual(out, want);
        },
      ),
      { numRuns: 1500 },
    );
  });

  test("hostile frames are protocol errors", () => {
    const hello = encodeHello({ stream: "app", spool: "s1" });
    const raw = (type: number, len: number, body = Buffer.alloc(0)) => {
      const h = Buffer.alloc(5);
      h[0] = type;
      h.writeUInt32BE(len, 1);
      return Buffer.concat([h, body]);
    };
    const seq = (v: bigint) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(v);
      return b;
    };
    for (const [bytes, why] of [
      [encodeRecord(1, Buffer.from("x")), /not a logward-agent hello/],
      [Buffer.concat([hello, hello]), /second hello/],
      [raw(0x48, 100000), /longer than/],
      [raw(0x48, 10, Buffer.from("logward-ag")), /not a logward-agent hello/],
      [raw(0x48, 20, Buffer.from("logward-agent 2 a b ")), /version|hello/],
      [raw(0x48, 21, Buffer.from("logward-agent 1 a ../")), /spool id/],
      [Buffer.concat([hello, raw(0x52, 3, Buffer.from("abc"))]), /shorter than its sequence/],
      [Buffer.concat([hello, raw(0x52, 8, seq(0n))]), /out of range/],
      [Buffer.concat([hello, raw(0x52, 8, seq(2n ** 60n))]), /out of range/],
      [Buffer.concat([hello, raw(0x47, 31, Buffer.alloc(31))]), /gap frame must be/],
      [Buffer.concat([hello, raw(0x00, 0)]), /unknown frame type 0x00/],
    ] as const) {
      const { sink } = agentSink();
      const d = new AgentDecoder(100, sink);
      assert.throws(
        () => d.push(bytes),
        (e: unknown) => e instanceof FramingError && why.test(e.message),
        String(why),
      );
    }
  });

  test("a huge declared record is skipped as it streams, holding at most the limit", () => {
    const { sink, out } = agentSink();
    const d = new AgentDecoder(1000, sink);
    const head = Buffer.alloc(13);
    head[0] = 0x52;
    head.writeUInt32BE(8 + 50 * 1024 * 1024, 1);
    head.writeBigUInt64BE(1n, 5);
    d.push(Buffer.concat([encodeHello({ stream: "a", spool: "b" }), head]));
    for (let i = 0; i < 50; i++) {
      d.push(Buffer.alloc(1024 * 1024, 0x42));
      assert.ok(d.buffered <= 1000);
    }
    d.push(encodeRecord(2, Buffer.from("next")));
    assert.deepEqual(out.slice(1), [
      { seq: 1, cut: "B".repeat(1000), length: 50 * 1024 * 1024 },
      { seq: 2, data: "next" },
    ]);
  });

  test("the sender's reply decoder reads welcome, acks and the end", () => {
    const got: unknown[] = [];
    const r = new ReplyDecoder((x) => got.push(x));
    const bytes = Buffer.concat([
      encodeWelcome(41),
      encodeAck(42),
      encodeAgentEnd({ ok: true, records: 1, message: "durable" }),
    ]);
    for (const c of chunks(bytes, [1, 7, 13, 20])) r.push(c);
    assert.deepEqual(got, [
      { type: "welcome", seq: 41 },
      { type: "ack", seq: 42 },
      { type: "end", end: { ok: true, records: 1, message: "durable" } },
    ]);
    assert.throws(() => new ReplyDecoder(() => {}).push(Buffer.from([0x41, 0, 0, 0, 9])), FramingError);
  });
});
