// Fuzzing the seal record and checkpoint parsers (issue 21, "Fuzzing and property tests"):
// store/seal-format.ts (a `!seal` line, and finding seal lines in a block of stored lines) and
// seal/checkpoint.ts (a checkpoint file, hostile input handed to `verify --checkpoint`). A seal
// line parses only as exactly the bytes the writer makes; a checkpoint is either authentic or
// LW_CHECKPOINT_INVALID, quickly, with a message safe to print.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { LogwardError } from "../src/errors.ts";
import { readCheckpoint, writeCheckpoint } from "../src/seal/checkpoint.ts";
import { epochAt, KeyDeriver, nextKey } from "../src/seal/key.ts";
import { formatTime } from "../src/store/record.ts";
import { nextSealLine, parseSealLine, sealPayload } from "../src/store/seal-format.ts";
import { crashers, echoSafe, runs, thrown } from "./helpers/fuzz.ts";

const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
const seal = fc.record({
  epoch: fc.integer({ min: 1, max: 2 ** 40 }),
  key: hex(16),
  first: fc.integer({ min: 1, max: 2 ** 40 }),
  last: fc.nat(2 ** 40),
  bytes: fc.nat(2 ** 40),
  sha256: hex(64),
  prev: hex(64),
});

/** A seal line as the writer makes it, or with bytes changed. */
const sealLine = fc
  .tuple(
    seal,
    fc.integer({ min: 0, max: 8e15 }),
    fc.integer({ min: 1, max: 2 ** 40 }),
    hex(64),
    fc.array(fc.record({ at: fc.nat(), c: fc.constantFrom(" ", "0", "a", "=", "\n", "!", "x") }), {
      maxLength: 2,
    }),
  )
  .map(([s, us, seq, mac, edits]) => {
    const chars = [...`${formatTime(us)} ${seq} !seal ${sealPayload(s, mac)}`];
    for (const e of edits) chars[e.at % chars.length] = e.c;
    return chars.join("");
  });

describe("the !seal line", () => {
  test("parses only as the bytes the writer makes; never throws", () => {
    const check = (line: string) => {
      const s = parseSealLine(line);
      if (s) assert.equal(`${s.time} ${s.seq} !seal ${sealPayload(s, s.mac)}`, line);
    };
    for (const { bytes } of crashers("seal")) check(bytes.toString("latin1"));
    fc.assert(fc.property(fc.oneof(sealLine, fc.string({ maxLength: 200 })), check), runs(5000));
  });

  test("nextSealLine finds whole lines whose kind is !seal, in blocks of any bytes", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(sealLine, fc.string({ unit: fc.constantFrom("1", " ", "!", "s", "e", "a", "l", "\n") })),
          {
            maxLength: 6,
          },
        ),
        fc.nat(400),
        (lines, from) => {
          const block = Buffer.from(`${lines.join("\n")}\n`, "latin1");
          const start = from % (block.length + 1);
          const got = nextSealLine(block, start);
          if (!got) return;
          assert.ok(got.start >= start && got.start < got.end && got.end < block.length);
          assert.equal(block[got.end], 0x0a);
          assert.ok(got.start === 0 || block[got.start - 1] === 0x0a);
          // the kind is the field after the 27-byte time and the seq (a damaged time is for
          // parseSealLine to refuse, as the verifier then reports)
          assert.match(block.toString("latin1", got.start + 27, got.end), /^ [0-9]{1,16} !seal /);
        },
      ),
      runs(3000),
    );
  });
});

describe("checkpoints", () => {
  const startS = Math.floor(Date.now() / 1000) - 3600;
  // a fixed key, so that the crashers can name its id
  const keys = new KeyDeriver({ k0: Buffer.alloc(32, 7), startS, epochS: 60 });
  const now = epochAt(keys, Date.now() * 1000);
  const entry = fc.record({
    origin: fc.stringMatching(/^[a-z][a-z0-9_.-]{0,8}$/),
    stream: fc.stringMatching(/^[a-z][a-z0-9_.-]{0,8}$/),
    seq: fc.nat(),
    mac: hex(64),
  });
  const junkDoc = fc.record(
    {
      format: fc.constantFrom("logward-checkpoint 1", "x"),
      created: fc.oneof(fc.string(), fc.nat()),
      key: fc.oneof(fc.constant(keys.keyId), hex(16), fc.string({ unit: "binary", maxLength: 20 })),
      epoch: fc.oneof(
        fc.integer({ min: 1, max: now + 2 }),
        fc.constantFrom(0, -1, 1e9, 2 ** 53 - 1, 1.5, "1"),
      ),
      streams: fc.oneof(fc.array(fc.oneof(entry, fc.jsonValue()), { maxLength: 3 }), fc.jsonValue()),
      mac: fc.oneof(hex(64), fc.string()),
    },
    { requiredKeys: [] },
  );

  const check = (text: string) => {
    const began = performance.now();
    const err = thrown(() => readCheckpoint(text, keys, "/tmp/c.json"));
    assert.ok(performance.now() - began < 1000, "a checkpoint took over a second to refuse");
    if (err === undefined) return;
    assert.ok(err instanceof LogwardError && err.code === "LW_CHECKPOINT_INVALID", String(err));
    assert.ok(echoSafe(err.message), `echoes raw control characters: ${JSON.stringify(err.message)}`);
  };

  test("what writeCheckpoint writes reads back", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(entry, { selector: (e) => `${e.origin}/${e.stream}`, maxLength: 4 }),
        fc.integer({ min: 1, max: now }),
        (streams, epoch) => {
          const text = writeCheckpoint(
            streams,
            { epoch, keyId: keys.keyId, key: keys.at(epoch) },
            "2026-01-01T00:00:00Z",
          );
          assert.equal(readCheckpoint(text, keys, "c").streams.length, streams.length);
        },
      ),
      runs(200),
    );
  });

  test("any text: LW_CHECKPOINT_INVALID only, within a second, safe to print", () => {
    for (const { bytes } of crashers("checkpoint")) check(bytes.toString("utf8"));
    fc.assert(
      fc.property(
        fc.oneof(
          junkDoc.map((d) => JSON.stringify(d)),
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc.string(),
        ),
        check,
      ),
      runs(2000),
    );
  });
});

describe("the key chain", () => {
  test("any order of epochs gives the keys of the plain chain (kept keys change no key)", () => {
    const k0 = Buffer.alloc(32, 9);
    const chain: Buffer[] = [k0];
    for (let e = 1; e <= 5000; e++) chain.push(nextKey(chain[e - 1]!));
    const keys = new KeyDeriver({ k0, startS: 0, epochS: 60 });
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 40 }), (epochs) => {
        for (const e of epochs) assert.ok(keys.at(e).equals(chain[e]!), `epoch ${e}`);
      }),
      runs(300),
    );
  });
});
