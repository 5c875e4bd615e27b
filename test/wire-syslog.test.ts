// Syslog over TCP/TLS: the RFC 6587 framer (octet counting and LF on one connection) and the
// header parser. The parser vectors are ported as data from the RFCs, rsyslog, syslog-ng and
// go-syslog (test/fixtures/syslog/parse-vectors.json names each one's repository and file); the
// framing cases port OpenBSD syslogd's regress tests (openbsd/src
// regress/usr.sbin/syslogd/args-*.pl), each test named after the file it ports; util-linux
// `logger` is the real peer.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import { describe, test } from "node:test";
import fc from "fast-check";
import { FramingError } from "../src/wire/framer.ts";
import { SyslogFramer } from "../src/wire/syslog-framer.ts";
import { parseSyslog, type SyslogFields } from "../src/wire/syslog-parse.ts";
import { chunks } from "./helpers/chunks.ts";
import { collector, type Out } from "./helpers/sink.ts";

/** Frames `bytes` pushed as the given chunks; the records, and the FramingError if one ended it. */
function frame(parts: Buffer[], limit = 8192, maxDeclared?: number): { out: Out[]; error: string | null } {
  const { sink, out } = collector();
  const f = new SyslogFramer(limit, sink, maxDeclared);
  try {
    for (const c of parts) f.push(c);
    f.end();
  } catch (e) {
    if (!(e instanceof FramingError)) throw e;
    return { out, error: e.message };
  }
  assert.equal(f.buffered, 0);
  return { out, error: null };
}

const latin1 = (s: string) => Buffer.from(s, "latin1");

describe("syslog framer: OpenBSD syslogd regress cases", () => {
  // args-client-tcp-octet.pl: octet-counted messages back to back. OpenBSD ends a message at
  // NUL and turns LF into SP when it writes its file; logward keeps the bytes as sent.
  test("args-client-tcp-octet", () => {
    const { out, error } = frame([latin1("0 1 a2 bc3 de\n4 fg\0X3 hi 4 jk\n\n1 l0 1 m1  2  n2 o ")]);
    assert.equal(error, null);
    assert.deepEqual(
      out.map((o) => ("data" in o ? o.data : o)),
      ["", "a", "bc", "de\n", "fg\0X", "hi ", "jk\n\n", "l", "", "m", " ", " n", "o "],
    );
  });

  // args-client-tcp-nontransp.pl: LF-terminated messages; OpenBSD also ends one at NUL and
  // drops the CR of CR LF; logward splits at LF only and keeps CR and NUL as data.
  test("args-client-tcp-nontransp", () => {
    const { out, error } = frame([latin1("\na\nbc\nde\r\nfg\0hi \njk\x07\nl\n\nm\n \n n\n o \n")]);
    assert.equal(error, null);
    assert.deepEqual(
      out.map((o) => ("data" in o ? o.data : o)),
      ["", "a", "bc", "de\r", "fg\0hi ", "jk\x07", "l", "", "m", " ", " n", " o "],
    );
  });

  // args-client-tcp-octet-badframe.pl: a count with leading zeros, and digits not followed
  // by SP, are no octet count: both frames are LF-terminated lines.
  test("args-client-tcp-octet-badframe", () => {
    const { out, error } = frame([latin1("000002 ab\n"), latin1("2bc\n")]);
    assert.equal(error, null);
    assert.deepEqual(out, [{ data: "000002 ab" }, { data: "2bc" }]);
  });

  // args-client-tcp-octet-nontransp.pl: both framings mixed, written in the same chunks.
  test("args-client-tcp-octet-nontransp", () => {
    const parts = ["2 ab", "2 c", "def\n", "g", "h\nij\n2 kl"].map(latin1);
    const { out, error } = frame(parts);
    assert.equal(error, null);
    assert.deepEqual(out, [
      { data: "ab" },
      { data: "cd" },
      { data: "ef" },
      { data: "gh" },
      { data: "ij" },
      { data: "kl" },
    ]);
  });

  // args-client-tcp-octet-maxline.pl: octet counts of MAXLINE+1 (the second message one byte
  // short, ended by an LF): cut at the limit, reported with the declared length, the rest
  // skipped without losing the framing.
  test("args-client-tcp-octet-maxline", () => {
    const MAXLINE = 8192;
    const long = "x".repeat(MAXLINE + 1);
    const short = "y".repeat(MAXLINE);
    const bytes = latin1(`${MAXLINE + 1} ${long}${MAXLINE + 1} ${short}\n`);
    const { out, error } = frame([bytes], MAXLINE);
    assert.equal(error, null);
    assert.deepEqual(out, [
      { cut: "x".repeat(MAXLINE), length: MAXLINE + 1 },
      { cut: "y".repeat(MAXLINE), length: MAXLINE + 1 },
    ]);
  });

  // args-client-tcp-nontransp-maxline.pl: an LF line of MAXLINE+1, then one of MAXLINE.
  test("args-client-tcp-nontransp-maxline", () => {
    const MAXLINE = 8192;
    const bytes = latin1(`${"a".repeat(MAXLINE + 1)}\n${"b".repeat(MAXLINE)}\n`);
    for (const parts of [[bytes], chunks(bytes, [100, MAXLINE, MAXLINE + 3])]) {
      const { out, error } = frame(parts, MAXLINE);
      assert.equal(error, null);
      assert.deepEqual(out, [
        { cut: "a".repeat(MAXLINE), length: MAXLINE + 1 },
        { data: "b".repeat(MAXLINE) },
      ]);
    }
  });

  // args-client-tcp-maxline.pl: a line over the limit without LF, then the client closes:
  // kept cut, as the last (unterminated) record, with its real length.
  test("args-client-tcp-maxline (missing newline at close)", () => {
    const MAXLINE = 8192;
    const { out, error } = frame([latin1("z".repeat(MAXLINE + 1))], MAXLINE);
    assert.equal(error, null);
    assert.deepEqual(out, [{ unterminated: "z".repeat(MAXLINE), length: MAXLINE + 1 }]);
  });

  // args-client-tcp-multichunks.pl: one message written 5 bytes at a time, then its LF.
  test("args-client-tcp-multichunks", () => {
    const msg = "<13>Jan 31 00:10:11 syslogd-regress: a message in many chunks";
    const parts = [...(msg.match(/.{1,5}/g) ?? []), "\n"].map(latin1);
    assert.deepEqual(frame(parts).out, [{ data: msg }]);
  });

  // args-client-tcp-multilines.pl: three lines in one write, the last without LF before close.
  test("args-client-tcp-multilines", () => {
    const { out } = frame([latin1("first\nsecond\nthird")]);
    assert.deepEqual(out, [{ data: "first" }, { data: "second" }, { unterminated: "third", length: 5 }]);
  });
});

describe("syslog framer: bounds", () => {
  test("an octet count past the end of the stream: what arrived is kept, then a FramingError", () => {
    const { out, error } = frame([latin1("5 hello10 abc")]);
    assert.deepEqual(out, [{ data: "hello" }, { unterminated: "abc", length: 3 }]);
    assert.match(error ?? "", /truncated octet-counted record: a message of 10 bytes ended after 3/);
    // a stream that ends right after the count's SP hands over nothing more
    assert.deepEqual(frame([latin1("3 ")]), {
      out: [],
      error: "truncated octet-counted record: a message of 3 bytes ended after 0",
    });
    // digits without SP at the close are a last unterminated line (OpenBSD: non-transparent)
    assert.deepEqual(frame([latin1("12")]).out, [{ unterminated: "12", length: 2 }]);
  });

  test("a digit run longer than the largest count needs is refused (CVE-2022-24903 class)", () => {
    // maxDeclared 1 GiB has 10 digits; the 11th is refused before any byte of the message
    const { out, error } = frame([latin1("5 hello"), latin1(`${"9".repeat(11)} x`)]);
    assert.deepEqual(out, [{ data: "hello" }]);
    assert.equal(error, "bad octet count: more than 10 digits");
    const long = frame([latin1("9".repeat(10_000))]);
    assert.equal(long.error, "bad octet count: more than 10 digits");
  });

  test("a count over maxDeclared is refused at its SP, before any of its data is read", () => {
    const { out, error } = frame([latin1("2 ok65537 "), Buffer.alloc(1000, 0x41)], 1024, 65536);
    assert.deepEqual(out, [{ data: "ok" }]);
    assert.equal(error, "bad octet count: a length over 65536 bytes");
  });

  test("a declared 1 GiB message is never buffered beyond the limit, and the framing holds", () => {
    const { sink, out } = collector();
    const limit = 64 * 1024;
    const f = new SyslogFramer(limit, sink);
    const declared = 1024 * 1024 * 1024;
    f.push(latin1(`${declared} `));
    const block = Buffer.alloc(4 * 1024 * 1024, 0x42);
    for (let sent = 0; sent < declared; sent += block.length) {
      f.push(block);
      assert.ok(f.buffered <= limit);
    }
    f.push(latin1("5 after"));
    f.end();
    assert.equal(out.length, 2);
    assert.deepEqual((out[0] as { length: number }).length, declared);
    assert.equal((out[0] as { cut: string }).cut.length, limit);
    assert.deepEqual(out[1], { data: "after" });
  });

  test("CR LF: the CR stays in the record; LF inside an octet-counted message is data", () => {
    assert.deepEqual(frame([latin1("<13>a\r\n7 <13>b\nc")]).out, [{ data: "<13>a\r" }, { data: "<13>b\nc" }]);
  });
});

// a message for the property tests: octet-counted (any bytes), or LF-terminated (no LF, and
// not starting with a digit, or it would be read as a count)
const body = fc.string({
  unit: fc.constantFrom("a", "<", "1", " ", "\r", "\0", "\xff", "\n"),
  maxLength: 30,
});
const message = fc.oneof(
  body.map((b) => ({ octets: true, text: b })),
  body.map((b) => ({ octets: false, text: `<${b.replaceAll("\n", "")}` })),
);

describe("syslog framer: properties", () => {
  test("any chunking of any mixed sequence gives the same records, cut at the limit", () => {
    fc.assert(
      fc.property(
        fc.array(message, { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.integer({ min: 1, max: 40 }),
        (messages, cuts, limit) => {
          const wire = messages
            .map((m) => (m.octets ? `${m.text.length} ${m.text}` : `${m.text}\n`))
            .join("");
          const want: Out[] = messages.map((m) =>
            m.text.length > limit ? { cut: m.text.slice(0, limit), length: m.text.length } : { data: m.text },
          );
          const got = frame(chunks(latin1(wire), cuts), limit);
          assert.deepEqual(got, { out: want, error: null });
        },
      ),
      { numRuns: 2000 },
    );
  });

  test("any chunking of arbitrary bytes gives the same records and the same error", () => {
    const bytes = fc.uint8Array({ maxLength: 200 }).map((a) => {
      // bias towards framing bytes: digits, SP and LF
      const map = [0x30, 0x31, 0x35, 0x20, 0x0a, 0x3c, 0x41, 0x00];
      return Buffer.from(a.map((x) => (x < 200 ? map[x & 7]! : x)));
    });
    fc.assert(
      fc.property(
        bytes,
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.integer({ min: 1, max: 30 }),
        (b, cuts, limit) => {
          assert.deepEqual(frame(chunks(b, cuts), limit, 500), frame([b], limit, 500));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

interface Vector {
  name: string;
  source: string;
  input?: string;
  inputHex?: string;
  expect: Omit<SyslogFields, "msgStart"> & { msg: string };
}

const vectors = (
  JSON.parse(readFileSync(new URL("./fixtures/syslog/parse-vectors.json", import.meta.url), "utf8")) as {
    vectors: Vector[];
  }
).vectors;

describe("syslog parser: vectors from the RFCs, rsyslog, syslog-ng and go-syslog", () => {
  test("there are at least 60 of them, each naming its source", () => {
    assert.ok(vectors.length >= 60);
    for (const v of vectors) assert.ok(v.source.length > 0, v.name);
  });
  for (const v of vectors) {
    test(`${v.name} (${v.source})`, () => {
      const hex = v.inputHex !== undefined;
      const buf = hex ? Buffer.from(v.inputHex!, "hex") : Buffer.from(v.input!, "utf8");
      const { msgStart, ...fields } = parseSyslog(buf);
      assert.deepEqual(
        { ...fields, msg: buf.subarray(msgStart).toString(hex ? "latin1" : "utf8") },
        v.expect,
      );
      // the same record inside a larger buffer reads the same, and never past its end
      const framed = Buffer.concat([latin1("12 <99>1 x y\n"), buf, latin1(" trailing bytes")]);
      assert.deepEqual(parseSyslog(framed, 13, 13 + buf.length), parseSyslog(buf));
    });
  }
});

describe("syslog parser: properties", () => {
  const token = fc.constantFrom(
    "<13>",
    "<191>",
    "<1>1 ",
    "- ",
    "2003-10-11T22:14:15.003Z ",
    "Oct 11 22:14:15 ",
    "Mar  1 18:46:11.123 UTC: ",
    "host ",
    "su: ",
    "app[12]: ",
    '[id a="b\\"c\\]"]',
    "[",
    "]",
    '"',
    "\\",
    "=",
    " ",
    "\xef\xbb\xbf",
    "123: ",
    "*",
    ":",
  );
  const syslogish = fc
    .array(fc.oneof(token, fc.string({ maxLength: 5 })), { maxLength: 14 })
    .map((t) => latin1(t.join("")));
  test("never throws, and MSG starts within the record, for syslog-like and for arbitrary bytes", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          syslogish,
          fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
        ),
        (buf) => {
          const f = parseSyslog(buf);
          assert.ok(f.msgStart >= 0 && f.msgStart <= buf.length, `msgStart ${f.msgStart} of ${buf.length}`);
          assert.ok(f.facility === null || (f.facility >= 0 && f.facility <= 23));
          assert.ok(f.severity === null || (f.severity >= 0 && f.severity <= 7));
          // a view inside a larger buffer gives the same answer
          const wide = Buffer.concat([latin1("<1>1 "), buf, latin1(" - - [x]")]);
          assert.deepEqual(parseSyslog(wide, 5, 5 + buf.length), f);
        },
      ),
      { numRuns: 3000 },
    );
  });

  test("work is linear: 1 MiB records of escapes, parameters or brackets parse quickly", () => {
    const escaped = latin1(`<13>1 - - - - - [a b="${"\\\\".repeat(250_000)}"] m`);
    const params = latin1(`<13>1 - - - - - [a${' b=""'.repeat(200_000)}] m`);
    const brackets = latin1(`<13>Jan  1 00:00:00 h t[${"[".repeat(1_000_000)}`);
    const t0 = performance.now();
    const f = parseSyslog(escaped);
    assert.equal(f.structuredData?.[0]?.params[0]?.[1].length, 250_000);
    assert.equal(parseSyslog(params).structuredData?.[0]?.params.length, 200_000);
    assert.equal(parseSyslog(brackets).appName, null);
    assert.ok(performance.now() - t0 < 2000, `${performance.now() - t0} ms`);
  });
});

describe("syslog: util-linux logger as the real peer", () => {
  /** Runs logger against a one-shot TCP server; returns every byte it sent. */
  async function loggerBytes(args: string[]): Promise<Buffer> {
    const parts: Buffer[] = [];
    const server = net.createServer();
    const received = new Promise<void>((resolve) => {
      server.on("connection", (s) => {
        s.on("data", (d: Buffer) => parts.push(d));
        s.on("end", () => resolve());
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      await new Promise<void>((resolve, reject) =>
        execFile(
          "logger",
          [
            "--server",
            "127.0.0.1",
            "--tcp",
            "--port",
            String(port),
            "--tag",
            "logward-test",
            "-p",
            "local3.warning",
            ...args,
          ],
          { timeout: 10_000 },
          (e) => (e ? reject(e) : resolve()),
        ),
      );
      await received;
    } finally {
      server.close();
    }
    return Buffer.concat(parts);
  }

  function records(bytes: Buffer): string[] {
    const { out, error } = frame([bytes]);
    assert.equal(error, null);
    return out.map((o) => {
      assert.ok("data" in o, JSON.stringify(o));
      return o.data;
    });
  }

  test("--octet-count --rfc5424 with structured data and an id", async () => {
    const bytes = await loggerBytes([
      "--octet-count",
      "--rfc5424",
      "--id=4242",
      "--sd-id",
      "test@32473",
      "--sd-param",
      'k="v\\"q"',
      "hello octets",
    ]);
    assert.match(bytes.toString("latin1"), /^\d+ <156>1 /);
    const [rec, ...rest] = records(bytes);
    assert.equal(rest.length, 0);
    const f = parseSyslog(latin1(rec!));
    assert.equal(f.header, "rfc5424");
    assert.equal(f.facility, 19);
    assert.equal(f.severity, 4);
    assert.equal(f.appName, "logward-test");
    assert.equal(f.procId, "4242");
    assert.ok(f.hostname);
    assert.ok(f.timestamp && /^\d{4}-\d\d-\d\dT/.test(f.timestamp));
    assert.deepEqual(f.structuredData?.at(-1), { id: "test@32473", params: [["k", 'v"q']] });
    assert.equal(rec!.slice(f.msgStart), "hello octets");
  });

  test("LF-framed --rfc5424", async () => {
    const [rec, ...rest] = records(await loggerBytes(["--rfc5424", "hello lines"]));
    assert.equal(rest.length, 0);
    const f = parseSyslog(latin1(rec!));
    assert.equal(f.header, "rfc5424");
    assert.equal(f.appName, "logward-test");
    assert.equal(rec!.slice(f.msgStart), "hello lines");
  });

  for (const octets of [false, true]) {
    test(`--rfc3164${octets ? " --octet-count" : ""}`, async () => {
      const [rec, ...rest] = records(
        await loggerBytes([...(octets ? ["--octet-count"] : []), "--rfc3164", "hello bsd"]),
      );
      assert.equal(rest.length, 0);
      const f = parseSyslog(latin1(rec!));
      assert.equal(f.header, "rfc3164");
      assert.equal(f.facility, 19);
      assert.equal(f.severity, 4);
      assert.match(f.timestamp ?? "", /^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d$/);
      assert.ok(f.hostname);
      assert.equal(f.appName, "logward-test");
      assert.equal(rec!.slice(f.msgStart), "hello bsd");
    });
  }
});
