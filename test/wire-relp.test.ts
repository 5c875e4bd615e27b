// RELP frame codec (src/wire/relp.ts): the frames of a real rsyslog omrelp session as
// librelp writes them (rsyslog/librelp doc/relp.md, src/relpframe.c relpFrameBuildSendbuf(),
// src/copen.c, src/relpsess.c relpSessConstructOffers()), the refusals, the encoders, and the
// property that no chunking changes the frames.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { FramingError } from "../src/wire/framer.ts";
import {
  encodeRelpFrame,
  encodeRelpOpenReply,
  encodeRelpRsp,
  encodeRelpServerClose,
  parseRelpOffers,
  RelpParser,
} from "../src/wire/relp.ts";
import { chunks } from "./helpers/chunks.ts";

type Frame = { txnr: number; command: string; data: string };

function parse(
  parts: Buffer[],
  maxData = 128 * 1024,
): { frames: Frame[]; error: string | null; buffered: number } {
  const frames: Frame[] = [];
  const p = new RelpParser(maxData, {
    frame(txnr, command, data) {
      frames.push({ txnr, command, data: data.toString("latin1") });
    },
  });
  try {
    for (const c of parts) p.push(c);
    p.end();
  } catch (e) {
    if (!(e instanceof FramingError)) throw e;
    return { frames, error: e.message, buffered: p.buffered };
  }
  return { frames, error: null, buffered: p.buffered };
}

const latin1 = (s: string) => Buffer.from(s, "latin1");

// what rsyslog's omrelp sends: open with its offers, syslog frames, close
const offers = "relp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog";
const msg1 = "<13>1 2026-01-01T00:00:00Z host app - - - first";
const msg2 = "<13>Jan  1 00:00:01 host app: second\nwith an LF inside";
const session = `1 open ${offers.length} ${offers}\n2 syslog ${msg1.length} ${msg1}\n3 syslog ${msg2.length} ${msg2}\n4 close 0\n`;

describe("RELP parser", () => {
  test("an omrelp session: open, two syslog frames, close", () => {
    assert.deepEqual(parse([latin1(session)]), {
      frames: [
        { txnr: 1, command: "open", data: offers },
        { txnr: 2, command: "syslog", data: msg1 },
        { txnr: 3, command: "syslog", data: msg2 },
        { txnr: 4, command: "close", data: "" },
      ],
      error: null,
      buffered: 0,
    });
  });

  test("any chunking gives the same frames", () => {
    const frame = fc.record({
      txnr: fc.integer({ min: 0, max: 999_999_999 }),
      command: fc.constantFrom("syslog", "open", "close", "rsp", "serverclose", "eventlog"),
      data: fc.string({ unit: fc.constantFrom("a", "\n", " ", "\0", "\xff", "9"), maxLength: 40 }),
    });
    fc.assert(
      fc.property(
        fc.array(frame, { maxLength: 15 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (frames, cuts) => {
          const wire = Buffer.concat(frames.map((f) => encodeRelpFrame(f.txnr, f.command, latin1(f.data))));
          assert.deepEqual(parse(chunks(wire, cuts)), {
            frames: frames.map((f) => ({ ...f })),
            error: null,
            buffered: 0,
          });
        },
      ),
      { numRuns: 2000 },
    );
  });

  test("any chunking of arbitrary bytes gives the same frames and the same error", () => {
    const bytes = fc.uint8Array({ maxLength: 120 }).map((a) => {
      const map = [0x31, 0x20, 0x0a, 0x73, 0x30, 0x32, 0x61, 0x35];
      return Buffer.from(a.map((x) => (x < 220 ? map[x & 7]! : x)));
    });
    fc.assert(
      fc.property(bytes, fc.array(fc.nat(), { maxLength: 10 }), (b, cuts) => {
        const whole = parse([b], 20);
        const cut = parse(chunks(b, cuts), 20);
        assert.deepEqual(cut.frames, whole.frames);
        assert.equal(cut.error, whole.error);
      }),
      { numRuns: 2000 },
    );
  });

  const refusals: Array<[name: string, wire: string, error: RegExp]> = [
    ["a TXNR of ten digits", "1234567890 syslog 1 x\n", /TXNR has more than 9 digits/],
    ["a frame that starts with a letter", "syslog 1 x\n", /byte 0x73 where a TXNR digit/],
    ["no TXNR before the SP", " syslog 1 x\n", /byte 0x20 where a TXNR digit/],
    ["a digit in the command", "1 sys1og 1 x\n", /byte 0x31 in the command/],
    ["an empty command", "1  1 x\n", /byte 0x20 in the command/],
    ["a command of 33 letters", `1 ${"a".repeat(33)} 0\n`, /command longer than 32 letters/],
    ["a DATALEN of ten digits", "1 syslog 1234567890 x\n", /DATALEN has more than 9 digits/],
    ["no DATALEN", "1 syslog x\n", /byte 0x78 where a DATALEN digit/],
    ["DATALEN 0 followed by SP", "1 close 0 \n", /byte 0x20 where the trailing LF/],
    ["a byte other than SP after DATALEN", "1 syslog 3x abc\n", /byte 0x78 after DATALEN/],
    ["data longer than DATALEN (no LF where it ends)", "1 syslog 2 abc\n", /byte 0x63 where the trailing LF/],
    ["a stream that ends inside a frame", "1 syslog 5 abc", /truncated RELP frame/],
    ["a stream that ends inside a TXNR", "12", /truncated RELP frame/],
  ];
  for (const [name, wire, error] of refusals) {
    test(`refused: ${name}`, () => {
      const { frames, error: got } = parse([latin1(`7 syslog 2 ok\n${wire}`)]);
      assert.deepEqual(frames, [{ txnr: 7, command: "syslog", data: "ok" }]);
      assert.match(got ?? "(no error)", error);
    });
  }

  test("a DATALEN over the limit is refused at its SP, before any data is held", () => {
    const { frames, error, buffered } = parse([
      latin1("1 syslog 2 ok\n2 syslog 131073 "),
      Buffer.alloc(4096),
    ]);
    assert.deepEqual(frames, [{ txnr: 1, command: "syslog", data: "ok" }]);
    assert.equal(error, "RELP frame too long: 131073 bytes of data, at most 131072");
    assert.equal(buffered, 0);
  });

  test("a frame that spans chunks is held up to its DATALEN, never more", () => {
    const p = new RelpParser(1024, { frame() {} });
    p.push(latin1("1 syslog 1000 "));
    for (let i = 0; i < 9; i++) {
      p.push(Buffer.alloc(100, 0x61));
      assert.ok(p.buffered <= 1000);
    }
    assert.equal(p.buffered, 900);
  });

  test("TXNR 999999999 (the largest) and TXNR 0 (hints) are accepted", () => {
    assert.deepEqual(parse([latin1("999999999 syslog 1 x\n0 serverclose 0\n")]).frames, [
      { txnr: 999_999_999, command: "syslog", data: "x" },
      { txnr: 0, command: "serverclose", data: "" },
    ]);
  });
});

describe("RELP encoders", () => {
  test("rsp 200 OK, byte for byte as librelp's scsyslog.c answers a syslog frame", () => {
    assert.equal(encodeRelpRsp(2, true).toString("latin1"), "2 rsp 6 200 OK\n");
  });

  test("rsp 500 with a reason", () => {
    assert.equal(
      encodeRelpRsp(3, false, "command disabled").toString("latin1"),
      "3 rsp 20 500 command disabled\n",
    );
    assert.throws(() => encodeRelpRsp(3, false, "two\nlines"), RangeError);
  });

  test("the open reply carries 200 OK and the offers in librelp's order", () => {
    const reply = encodeRelpOpenReply(1, { relpVersion: 0, software: "logward,0.1.0", commands: ["syslog"] });
    const data = "200 OK\nrelp_version=0\nrelp_software=logward,0.1.0\ncommands=syslog";
    assert.equal(reply.toString("latin1"), `1 rsp ${data.length} ${data}\n`);
    // and it reads back as one rsp frame whose offers parse
    const [frame] = parse([reply]).frames;
    assert.equal(frame!.command, "rsp");
    const body = latin1(frame!.data);
    const lf = body.indexOf(0x0a);
    assert.equal(body.toString("latin1", 0, lf), "200 OK");
    assert.deepEqual(
      [...parseRelpOffers(body.subarray(lf + 1))],
      [
        ["relp_version", ["0"]],
        ["relp_software", ["logward", "0.1.0"]],
        ["commands", ["syslog"]],
      ],
    );
  });

  test("serverclose is the hint 0 serverclose 0", () => {
    assert.equal(encodeRelpServerClose().toString("latin1"), "0 serverclose 0\n");
  });

  test("a client's open offers parse into names and values", () => {
    const parsed = parseRelpOffers(latin1(offers));
    assert.deepEqual(parsed.get("relp_version"), ["0"]);
    assert.deepEqual(parsed.get("commands"), ["syslog"]);
    assert.deepEqual(parsed.get("relp_software"), ["librelp", "1.11.0", "http://librelp.adiscon.com"]);
    // at most 64 offers are read from a hostile open
    assert.equal(
      parseRelpOffers(latin1(Array.from({ length: 1000 }, (_, i) => `o${i}=1`).join("\n"))).size,
      64,
    );
  });

  test("the encoder refuses what the grammar does not allow", () => {
    assert.throws(() => encodeRelpFrame(1_000_000_000, "syslog"), RangeError);
    assert.throws(() => encodeRelpFrame(-1, "syslog"), RangeError);
    assert.throws(() => encodeRelpFrame(1, "sys log"), RangeError);
    assert.throws(() => encodeRelpFrame(1, ""), RangeError);
    assert.equal(encodeRelpFrame(5, "close").toString("latin1"), "5 close 0\n");
  });
});
