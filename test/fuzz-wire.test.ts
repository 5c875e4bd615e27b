// Fuzzing the framers and protocol parsers of src/wire with arbitrary and mutated bytes (issue
// 21, "Fuzzing and property tests"). test/wire*.test.ts already show that well-formed input
// cut any way decodes the same; these add what hostile input must not break: nothing but a
// FramingError is ever thrown, the bytes a framer holds stay within its limit after every
// chunk, and any chunking of the same bytes gives the same records and the same error. The
// crashers kept under test/fixtures/crashers/ are replayed first.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { LogwardError } from "../src/errors.ts";
import { adminError, encodeRmRequest, parseRmRequest } from "../src/wire/admin.ts";
import {
  encodeAck,
  encodeAgentEnd,
  encodeGap,
  encodeHello,
  encodeRecord,
  encodeWelcome,
  MAX_HELLO,
  parseHello,
  ReplyDecoder,
} from "../src/wire/agent.ts";
import { AgentDecoder } from "../src/wire/agent-decoder.ts";
import { FramingError } from "../src/wire/framer.ts";
import { JournalFramer } from "../src/wire/journal.ts";
import { LineFramer } from "../src/wire/lines.ts";
import { OctetFramer } from "../src/wire/octets.ts";
import { MAX_DESCRIPTOR_BYTES, parseDescriptor, SERVICES } from "../src/wire/qrexec.ts";
import {
  BlobFrameDecoder,
  encodeBlobEnd,
  encodeFrame,
  encodeLocalHeader,
  encodeRelayHeader,
  FORMATS,
  FRAME_DATA,
  FrameDecoder,
  parseLocalHeader,
  parseRelayHeader,
} from "../src/wire/relay.ts";
import { parseRelpOffers, RelpParser } from "../src/wire/relp.ts";
import { SyslogFramer } from "../src/wire/syslog-framer.ts";
import { parseSyslog } from "../src/wire/syslog-parse.ts";
import { chunks } from "./helpers/chunks.ts";
import { crashers, runs, thrown } from "./helpers/fuzz.ts";

/** Bytes mostly from `alphabet` (the bytes that matter to a parser), some of them any byte. */
function bytesOf(alphabet: string, maxLength = 200): fc.Arbitrary<Buffer> {
  const favoured = [...Buffer.from(alphabet, "latin1")];
  return fc
    .array(
      fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...favoured) }, fc.integer({ min: 0, max: 255 })),
      {
        maxLength,
      },
    )
    .map((a) => Buffer.from(a));
}

/** Valid bytes changed at random: bytes replaced, inserted, removed, a tail cut. */
function mutated(valid: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  const edit = fc.record({
    at: fc.nat(),
    op: fc.constantFrom("set", "insert", "delete", "cut"),
    byte: fc.nat(255),
  });
  return fc.tuple(valid, fc.array(edit, { maxLength: 4 })).map(([b, edits]) => {
    let out = [...b];
    for (const e of edits) {
      const at = out.length === 0 ? 0 : e.at % out.length;
      if (e.op === "set" && out.length > 0) out[at] = e.byte;
      else if (e.op === "insert") out.splice(at, 0, e.byte);
      else if (e.op === "delete") out.splice(at, 1);
      else if (e.op === "cut") out = out.slice(0, at);
    }
    return Buffer.from(out);
  });
}

interface Run {
  out: unknown[];
  error: string | null;
}

/**
 * Pushes `parts` into a parser made by `make` (then ends it): what it handed out, and the
 * message of the FramingError that stopped it. Anything else thrown fails; so does holding
 * more than `bound` bytes after any call.
 */
function drive(
  make: (out: unknown[]) => { push(c: Buffer): void; end(): unknown; readonly buffered: number },
  parts: Buffer[],
  bound: number,
): Run {
  const out: unknown[] = [];
  const p = make(out);
  const err = thrown(() => {
    for (const c of parts) {
      p.push(c);
      assert.ok(p.buffered <= bound, `holds ${p.buffered} bytes, more than ${bound}`);
    }
    const rest = p.end();
    if (typeof rest === "number") out.push({ partial: rest });
  });
  assert.ok(p.buffered <= bound, `holds ${p.buffered} bytes after the end, more than ${bound}`);
  if (err === undefined) return { out, error: null };
  if (!(err instanceof FramingError)) throw err;
  return { out, error: err.message };
}

/** The property every framer keeps: only FramingError, bounded, the same for every chunking. */
function framerProperty(
  name: string,
  make: (
    limit: number,
    out: unknown[],
  ) => { push(c: Buffer): void; end(): unknown; readonly buffered: number },
  input: fc.Arbitrary<Buffer>,
  bound: (limit: number) => number = (limit) => limit,
  numRuns = 1500,
): void {
  test(`${name}: only FramingError, bounded, the same records and error for any chunking`, () => {
    for (const { name: file, bytes } of crashers(name)) {
      const whole = drive((o) => make(16, o), [bytes], bound(16));
      const bytewise = drive((o) => make(16, o), chunks(bytes, [...bytes.keys()]), bound(16));
      assert.deepEqual(bytewise, whole, `crasher ${file}`);
    }
    fc.assert(
      fc.property(
        input,
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.integer({ min: 1, max: 40 }),
        (b, cuts, limit) => {
          const whole = drive((o) => make(limit, o), [b], bound(limit));
          const cut = drive((o) => make(limit, o), chunks(b, cuts), bound(limit));
          assert.deepEqual(cut, whole);
        },
      ),
      runs(numRuns),
    );
  });
}

function recordSink(out: unknown[]) {
  return {
    records(buf: Buffer, offsets: Uint32Array, count: number) {
      for (let k = 0; k < count; k++) out.push(buf.toString("latin1", offsets[2 * k], offsets[2 * k + 1]));
    },
    truncated(kept: Buffer, length: number) {
      out.push({ cut: kept.toString("latin1"), length });
    },
    unterminated(kept: Buffer, length: number) {
      out.push({ unterminated: kept.toString("latin1"), length });
    },
  };
}

const hello = encodeHello({ stream: "app", spool: "s1" });
/** A sender's session: a hello, then records, unterminated records and gaps. */
const agentSession = fc
  .array(
    fc.oneof(
      fc
        .tuple(fc.integer({ min: 1, max: 2 ** 40 }), fc.uint8Array({ maxLength: 30 }), fc.boolean())
        .map(([seq, data, u]) => encodeRecord(seq, data, u)),
      fc
        .tuple(
          fc.integer({ min: 1, max: 1000 }),
          fc.integer({ min: 1, max: 1000 }),
          fc.integer(),
          fc.integer(),
        )
        .map(([seq, d, a, b]) => encodeGap({ seq: Math.max(seq, d), dropped: d, firstUs: a, lastUs: b })),
    ),
    { maxLength: 8 },
  )
  .map((frames) => Buffer.concat([hello, ...frames]));

/** A journal export stream: text fields, binary fields, entries ended by an empty line. */
const journalStream = fc
  .array(
    fc.oneof(
      fc.constantFrom("MESSAGE=hi\n", "__CURSOR=s=1;i=2\n", "A=\n", "\n", "?resume\n", "=x\n"),
      fc.uint8Array({ maxLength: 12 }).map((bin) => {
        const len = Buffer.alloc(8);
        len.writeBigUInt64LE(BigInt(bin.length));
        return Buffer.concat([Buffer.from("BIN\n"), len, bin, Buffer.from("\n")]).toString("latin1");
      }),
    ),
    { maxLength: 12 },
  )
  .map((parts) => Buffer.from(parts.join(""), "latin1"));

describe("framers on arbitrary and mutated bytes", () => {
  framerProperty("lines", (limit, out) => new LineFramer(limit, recordSink(out)), bytesOf("ab\n\r\0", 300));
  framerProperty(
    "octets",
    (limit, out) => new OctetFramer(limit, recordSink(out), 100),
    fc.oneof(
      bytesOf("0123 a\n"),
      mutated(
        fc
          .array(fc.string({ maxLength: 12 }))
          .map((a) => Buffer.from(a.map((s) => `${s.length} ${s}`).join(""))),
      ),
    ),
  );
  framerProperty(
    "syslog-framer",
    (limit, out) => new SyslogFramer(limit, recordSink(out), 60),
    bytesOf("0123 <>a\n\r", 300),
  );
  framerProperty(
    "journal",
    (limit, out) =>
      new (class extends JournalFramer {
        override end(): number {
          super.end();
          return this.incompleteBytes;
        }
      })(limit, {
        entry: (p, full, cursor) => out.push({ entry: p.toString("latin1"), full, cursor }),
        resumeRequested: () => out.push("resume"),
      }),
    fc.oneof(bytesOf("A=_\n?resume\0\x01", 300), mutated(journalStream)),
  );
  framerProperty(
    "agent-decoder",
    (limit, out) =>
      new AgentDecoder(limit, {
        hello: (h) => out.push({ hello: h }),
        records(buf, offsets, seqs, count) {
          for (let k = 0; k < count; k++)
            out.push({ seq: seqs[k], data: buf.toString("latin1", offsets[2 * k], offsets[2 * k + 1]) });
        },
        truncated: (seq, kept, full) => out.push({ seq, cut: kept.toString("latin1"), full }),
        unterminated: (seq, kept, full) => out.push({ seq, unterminated: kept.toString("latin1"), full }),
        gap: (g) => out.push({ gap: g }),
      }),
    fc.oneof(
      mutated(agentSession),
      fc.tuple(agentSession, bytesOf("HRUG\0\x08\x01", 60)).map(([a, b]) => Buffer.concat([a, b])),
    ),
    // a hello or gap frame is gathered whole before it is parsed
    (limit) => limit + MAX_HELLO,
  );
  framerProperty(
    "relp",
    (limit, out) =>
      new RelpParser(limit, {
        frame: (txnr, command, data) => out.push({ txnr, command, data: data.toString("latin1") }),
      }),
    fc.oneof(
      bytesOf("0123 syslog\n", 200),
      mutated(
        fc
          .array(
            fc.tuple(fc.nat(99), fc.constantFrom("syslog", "open", "close"), fc.string({ maxLength: 20 })),
            {
              maxLength: 6,
            },
          )
          .map((fs) =>
            Buffer.from(
              fs
                .map(([t, c, d]) => (d.length ? `${t} ${c} ${Buffer.byteLength(d)} ${d}\n` : `${t} ${c} 0\n`))
                .join(""),
            ),
          ),
      ),
    ),
  );
});

describe("small parsers on arbitrary input", () => {
  test("qrexec descriptor: only FramingError; a known service of its own; the text comes back", () => {
    const known = Object.keys(SERVICES);
    const text = fc.oneof(
      fc.string({ maxLength: MAX_DESCRIPTOR_BYTES }),
      fc
        .tuple(
          fc.constantFrom(...known, "constructor", "__proto__", "toString", "hasOwnProperty", ""),
          fc.option(fc.string({ maxLength: 20 })),
          fc.string({ maxLength: 20 }),
        )
        .map(([s, a, d]) => `${s}${a === null ? "" : `+${a}`} ${d}`),
    );
    const check = (bytes: Buffer) => {
      let d: ReturnType<typeof parseDescriptor> | undefined;
      const err = thrown(() => {
        d = parseDescriptor(bytes);
      });
      if (err !== undefined) {
        assert.ok(err instanceof FramingError, String(err));
        assert.doesNotMatch(err.message, /[\x00-\x1f\x7f-\xff]/);
        return;
      }
      assert.ok(Object.hasOwn(SERVICES, d!.service));
      assert.ok((FORMATS as readonly string[]).includes(d!.format));
      const call = d!.argument === null ? d!.service : `${d!.service}+${d!.argument}`;
      const back = bytes.toString("latin1");
      assert.ok(back === `${call} ${d!.sourceDomain}` || back === `${d!.service}+ ${d!.sourceDomain}`);
    };
    for (const { bytes } of crashers("qrexec")) check(bytes);
    fc.assert(
      fc.property(
        text.map((t) => Buffer.from(t, "latin1")),
        check,
      ),
      runs(3000),
    );
  });

  test("relay and local headers: only FramingError; what is encoded parses back", () => {
    const name = fc.string({
      unit: fc.constantFrom("a", "b", "_", ".", "-", "\x01", "é"),
      minLength: 1,
      maxLength: 12,
    });
    fc.assert(
      fc.property(
        fc.constantFrom(...FORMATS),
        name,
        name,
        fc.string({ maxLength: 80 }),
        (format, origin, stream, junk) => {
          const line = (b: Buffer) => b.toString("latin1").slice(0, -1);
          assert.deepEqual(parseRelayHeader(line(encodeRelayHeader({ format, origin, stream }))), {
            format,
            origin,
            stream,
          });
          assert.deepEqual(parseLocalHeader(line(encodeLocalHeader(format, stream))), { format, stream });
          for (const parse of [parseRelayHeader, parseLocalHeader]) {
            const err = thrown(() => parse(junk));
            assert.ok(err === undefined || err instanceof FramingError, String(err));
          }
        },
      ),
      runs(3000),
    );
  });

  test("agent hello: only FramingError; an encoded hello parses back", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom("a", "-", "_", "1"), minLength: 1, maxLength: 64 }),
        fc.oneof(
          fc.string({ maxLength: 80 }),
          fc.string({ unit: fc.constantFrom("logward-agent", " ", "1", "x") }),
        ),
        (spool, junk) => {
          assert.deepEqual(parseHello(encodeHello({ stream: "s", spool }).toString("latin1", 5)), {
            stream: "s",
            spool,
          });
          const err = thrown(() => parseHello(junk));
          assert.ok(err === undefined || err instanceof FramingError, String(err));
        },
      ),
      runs(3000),
    );
  });

  test("the sender's reply decoder: only FramingError on any bytes; replies decode whatever the chunking", () => {
    const replies = fc.array(
      fc.oneof(
        fc.nat().map((s) => ({ type: "welcome" as const, seq: s })),
        fc.nat().map((s) => ({ type: "ack" as const, seq: s })),
        fc
          .record({ ok: fc.boolean(), records: fc.nat(), message: fc.string({ maxLength: 20 }) })
          .map((end) => ({ type: "end" as const, end: { ...end } })),
      ),
      { maxLength: 6 },
    );
    const encode = (r: {
      type: string;
      seq?: number;
      end?: { ok: boolean; records: number; message: string };
    }) =>
      r.type === "welcome"
        ? encodeWelcome(r.seq!)
        : r.type === "ack"
          ? encodeAck(r.seq!)
          : encodeAgentEnd(r.end!);
    const decode = (parts: Buffer[]) => {
      const out: unknown[] = [];
      const d = new ReplyDecoder((r) => out.push(r));
      const err = thrown(() => {
        for (const c of parts) d.push(c);
      });
      assert.ok(err === undefined || err instanceof FramingError, String(err));
      return { out, error: err === undefined ? null : (err as Error).message };
    };
    for (const { name, bytes } of crashers("agent-reply")) assert.ok(decode([bytes]), name);
    fc.assert(
      fc.property(replies, fc.array(fc.nat(), { maxLength: 8 }), (rs, cuts) => {
        const bytes = Buffer.concat(rs.map(encode));
        assert.deepEqual(decode(chunks(bytes, cuts)).out, rs);
      }),
      runs(1500),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          bytesOf("WAE\0\x08{}", 80),
          fc
            .tuple(fc.constantFrom(0x45, 0x57, 0x41), fc.uint8Array({ maxLength: 20 }))
            .map(([t, p]) => encodeFrame(t, p)),
        ),
        fc.array(fc.nat(), { maxLength: 8 }),
        (b, cuts) => assert.deepEqual(decode(chunks(b, cuts)), decode([b])),
      ),
      runs(3000),
    );
  });

  test("relay reply frames and framed blobs: only FramingError; the same for any chunking", () => {
    const frames = (parts: Buffer[]) => {
      const out: unknown[] = [];
      const d = new FrameDecoder((type, payload) => out.push([type, payload.toString("latin1")]));
      const err = thrown(() => {
        for (const c of parts) d.push(c);
      });
      assert.ok(err === undefined || err instanceof FramingError, String(err));
      return { out, error: err === undefined ? null : (err as Error).message };
    };
    const blob = (parts: Buffer[]) => {
      const data: Buffer[] = [];
      const d = new BlobFrameDecoder((b) => data.push(Buffer.from(b)));
      const err = thrown(() => {
        for (const c of parts) d.push(c);
      });
      assert.ok(err === undefined || err instanceof FramingError, String(err));
      return {
        data: Buffer.concat(data).toString("latin1"),
        end: d.endTotal,
        error: err === undefined ? null : (err as Error).message,
      };
    };
    const validBlob = fc
      .array(fc.uint8Array({ minLength: 1, maxLength: 20 }), { maxLength: 5 })
      .map((ds) =>
        Buffer.concat([
          ...ds.map((x) => encodeFrame(FRAME_DATA, x)),
          encodeBlobEnd(ds.reduce((n, x) => n + x.length, 0)),
        ]),
      );
    fc.assert(
      fc.property(
        fc.oneof(bytesOf("DE\0\x01\x08", 80), mutated(validBlob)),
        fc.array(fc.nat(), { maxLength: 8 }),
        (b, cuts) => {
          // a blob's data frames may be split by the chunking: compare the bytes, not the calls
          assert.deepEqual(blob(chunks(b, cuts)), blob([b]));
          assert.deepEqual(frames(chunks(b, cuts)), frames([b]));
        },
      ),
      runs(3000),
    );
  });

  test("admin requests and refusals: LogwardError only, a code of the registry, requests parse back", () => {
    const word = fc.string({ unit: fc.constantFrom("a", "_", ".", "-", "1"), minLength: 1, maxLength: 10 });
    fc.assert(
      fc.property(
        fc.record({ origin: word, stream: fc.option(word), beforeUs: fc.option(fc.nat()), by: word }),
        fc.string({ maxLength: 80 }),
        fc.record({
          ok: fc.boolean(),
          records: fc.nat(),
          bytes: fc.nat(),
          code: fc.option(
            fc.constantFrom("LW_BUSY", "constructor", "__proto__", "toString", "valueOf", "LW_X"),
            {
              nil: undefined,
            },
          ),
          message: fc.string({ maxLength: 30 }),
        }),
        (req, junk, answer) => {
          const back = parseRmRequest(encodeRmRequest(req).slice(0, -1));
          assert.deepEqual(back, { ...req, stream: req.stream, beforeUs: req.beforeUs });
          const err = thrown(() => parseRmRequest(junk));
          assert.ok(err === undefined || err instanceof LogwardError, String(err));
          const e = adminError(answer as Parameters<typeof adminError>[0]);
          assert.ok(e instanceof LogwardError);
          assert.equal(typeof e.exitCode, "number", `code ${e.code} has no exit status`);
        },
      ),
      runs(3000),
    );
    for (const { name, bytes } of crashers("admin")) {
      const e = adminError(JSON.parse(bytes.toString("utf8")));
      assert.equal(typeof e.exitCode, "number", name);
    }
  });

  test("RELP offers and syslog fields never throw on any bytes", () => {
    fc.assert(
      fc.property(bytesOf('=,\nabc<>1 []"\\', 300), (b) => {
        assert.ok(parseRelpOffers(b).size <= 64);
        const f = parseSyslog(b);
        assert.ok(typeof f === "object" && f !== null);
      }),
      runs(3000),
    );
  });
});
