// `show --raw` is the bytes that were sent (issue 15): whatever a lines sender sends (CR, NUL,
// empty lines, no final LF) and whatever file `ship --file --once` reads comes back from
// `show --raw` byte for byte, through the real processes. A last line without LF is stored
// after a `!nolf` record that names it, and every raw reader (show, open, an export read by its
// README's recipe) leaves out the LF after that record.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, before, describe, test } from "node:test";
import { zstdDecompressSync } from "node:zlib";
import fc from "fast-check";
import { lineEmitter, Output } from "../src/query/emit.ts";
import { unescapePayload } from "../src/store/escape.ts";
import { parseLine } from "../src/store/record.ts";
import { Store } from "../src/store/store.ts";
import { BIN, logward } from "./helpers/cli.ts";
import { type Daemon, ingest, serve } from "./helpers/daemon.ts";
import { manualClock, readAll } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";

/** Byte strings rich in what breaks naive line handling: LF, CR, NUL, backslash, ESC, bad UTF-8. */
const sent = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(0x0a, 0x0d, 0x00, 0x5c, 0x1b, 0x20, 0x61) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
      { weight: 1, arbitrary: fc.constantFrom(0xc3, 0xa9, 0xe2, 0x80, 0xae, 0xff) },
    ),
    { maxLength: 300 },
  )
  .map((a) => Buffer.from(a));

/** The stored records' kinds and payloads of one stream, the collector's open/close left out. */
async function stored(store: string, origin: string, stream: string): Promise<string[]> {
  return (await readAll(store, origin, stream))
    .filter((r) => r.kind !== "!open" && r.kind !== "!close")
    .map((r) => `${r.kind} ${r.payload.toString("latin1").replace(/ session=\w+/, "")}`);
}

async function showRaw(store: string, target: string): Promise<Buffer> {
  const r = await logward(["show", "--store", store, target, "--raw"]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/**
 * A store in a new directory and a collector serving it (records up to 256 bytes, so that long
 * lines are cut) for the tests of the describe() it is called in.
 */
function servedStore(): { dir: string; store: string } {
  const dir = tempDir();
  const store = join(dir, "store");
  let d: Daemon;
  before(async () => {
    d = await serve(store, `[collector]\nmax_record = "256B"\n`);
  });
  after(async () => {
    await d.stop();
  });
  return { dir, store };
}

describe("ingest --format lines: show --raw is what was sent", () => {
  const { dir, store } = servedStore();
  const send = async (stream: string, bytes: Buffer) => {
    const r = await ingest(store, "lines", bytes, {
      QREXEC_REMOTE_DOMAIN: "work",
      QREXEC_SERVICE_ARGUMENT: stream,
    });
    assert.equal(r.code, 0, r.stderr);
  };

  test("the edge cases: nothing, one LF, no final LF, CRLF, NUL, empty lines", async () => {
    const cases: [string, string[]][] = [
      ["", []],
      ["\n", [". "]],
      ["a", ["!nolf seq=3", ". a"]],
      ["a\n", [". a"]],
      ["a\r\n\r\nb\r", [". a\r", ". \r", "!nolf seq=5", ". b\r"]],
      ["\0\n\n\n\0", [". \0", ". ", ". ", "!nolf seq=6", ". \0"]],
    ];
    for (const [k, [text, records]] of cases.entries()) {
      const bytes = Buffer.from(text, "latin1");
      await send(`edge${k}`, bytes);
      assert.deepEqual(await stored(store, "work", `edge${k}`), records, JSON.stringify(text));
      assert.ok((await showRaw(store, `work/edge${k}`)).equals(bytes), JSON.stringify(text));
    }
  });

  test("property: for any bytes sent, show --raw gives them back", async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(sent, async (bytes) => {
        const stream = `p${n++}`;
        await send(stream, bytes);
        const back = await showRaw(store, `work/${stream}`);
        assert.equal(back.toString("hex"), bytes.toString("hex"));
      }),
      { numRuns: 30 },
    );
  });

  test("a last line over the record limit is cut and marked: its first bytes, no LF", async () => {
    const long = Buffer.from(`ok\n${"z".repeat(1000)}`);
    await send("long", long);
    assert.deepEqual(await stored(store, "work", "long"), [
      ". ok",
      "!nolf seq=4",
      `. ${"z".repeat(256)}`,
      "!trunc seq=4 kept=256 received=1000",
    ]);
    assert.equal((await showRaw(store, "work/long")).toString(), `ok\n${"z".repeat(256)}`);
  });

  test("sessions one after the other: show --raw is their bytes concatenated, as cat would give", async () => {
    await send("cat", Buffer.from("one\ntwo"));
    await send("cat", Buffer.from("three\n"));
    await send("cat", Buffer.from("four"));
    assert.equal((await showRaw(store, "work/cat")).toString(), "one\ntwothree\nfour");
    // --json and the escaped lines show the marker as the collector record it is
    const text = (await logward(["show", "--store", store, "work/cat"])).stdout.toString();
    assert.match(text, / 3 !nolf seq=4 session=\w+\n.* 4 \. two\n/);
  });

  test("open --raw gives the viewer the exact bytes", async () => {
    const bytes = Buffer.from("x\r\n\0y");
    await send("open", bytes);
    const viewer = join(dir, "viewer.sh");
    writeFileSync(viewer, `#!/bin/sh\ncp "$1" '${dir}/seen'\n`, { mode: 0o755 });
    const config = join(dir, "logward.toml");
    writeFileSync(config, `[viewers]\nlines = ["${viewer}", "{file}"]\n`);
    const r = await logward(["open", "work/open", "--raw", "--store", store, "--config", config]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(join(dir, "seen")).equals(bytes));
  });

  test("an export read by its README's recipe gives back the exact bytes", async () => {
    const bytes = Buffer.from("first\r\n\n\x1b[31m\\last", "latin1");
    await send("exp", bytes);
    const file = join(dir, "exp.tar.zst");
    const ex = await logward(["export", "work", "-o", file, "--store", store]);
    assert.equal(ex.code, 0, ex.stderr);
    const members = untar(zstdDecompressSync(readFileSync(file)));
    const readme = members.get("README.txt")!.toString();
    assert.match(readme, /!nolf seq=N/);
    assert.ok(recipe(members.get("origins/work/exp.log")!).equals(bytes));
  });
});

/** The members of a ustar archive by name. */
function untar(tar: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (let at = 0; at + 512 <= tar.length && tar[at] !== 0; ) {
    const field = (s: number, n: number) => tar.toString("latin1", at + s, at + s + n).replace(/\0.*$/s, "");
    const name = field(345, 155) ? `${field(345, 155)}/${field(0, 100)}` : field(0, 100);
    const size = Number.parseInt(field(124, 12), 8);
    out.set(name, tar.subarray(at + 512, at + 512 + size));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** The export README's recipe: the "." records' payloads unescaped, each with LF unless a `!nolf` named it. */
function recipe(member: Buffer): Buffer {
  const parts: Buffer[] = [];
  let noLf = 0;
  for (let s = 0; s < member.length; ) {
    const e = member.indexOf(0x0a, s);
    const p = parseLine(member, s, e)!;
    const payload = Buffer.from(unescapePayload(member, p.payloadStart, p.payloadEnd));
    if (p.kind === "!nolf") noLf = Number(/^seq=(\d+)/.exec(payload.toString())![1]);
    if (p.kind === ".") parts.push(payload, Buffer.from(p.seq === noLf ? "" : "\n"));
    s = e + 1;
  }
  return Buffer.concat(parts);
}

describe("ship --file --once: show --raw is the file", () => {
  const { dir, store } = servedStore();
  let n = 0;
  const shipFile = async (bytes: Buffer): Promise<string> => {
    const stream = `f${n++}`;
    const file = join(dir, `${stream}.log`);
    writeFileSync(file, bytes);
    const via = `QREXEC_REMOTE_DOMAIN=work QREXEC_SERVICE_ARGUMENT=${stream} '${process.execPath}' '${BIN}' ingest --format agent --store '${store}'`;
    const args = ["ship", "--file", file, "--stream", stream, "--spool", join(dir, `spool-${stream}`)];
    const code = await new Promise<number | null>((resolve) => {
      const p = spawn(process.execPath, [BIN, ...args, "--via", via, "--once"], { stdio: "ignore" });
      p.once("exit", resolve);
    });
    assert.equal(code, 0);
    return stream;
  };

  test("property: for any file, ship --file --once and show --raw give it back", async () => {
    await fc.assert(
      fc.asyncProperty(sent, async (bytes) => {
        const stream = await shipFile(bytes);
        const back = await showRaw(store, `work/${stream}`);
        assert.equal(back.toString("hex"), bytes.toString("hex"));
      }),
      {
        numRuns: 12,
        examples: [[Buffer.from("")], [Buffer.from("\n")], [Buffer.from("a")], [Buffer.from("a\r\n\0")]],
      },
    );
  });

  test("a file's last line over the collector's limit: cut, marked, no LF", async () => {
    const stream = await shipFile(Buffer.from(`ok\n${"z".repeat(1000)}`));
    assert.deepEqual(
      (await stored(store, "work", stream)).map((r) => r.replace(/^(\.|!nolf|!trunc)@?\S*/, "$1")),
      [". ok", "!nolf seq=4", `. ${"z".repeat(256)}`, "!trunc seq=4 kept=256 received=1000"],
    );
    assert.equal((await showRaw(store, `work/${stream}`)).toString(), `ok\n${"z".repeat(256)}`);
  });
});

describe("raw readers and the !nolf record", () => {
  /** Stored lines of two streams as a reader hands them out, one block per line. */
  const line = (seq: number, kind: string, payload: string) =>
    Buffer.from(`2026-11-24T09:16:19.123456Z ${seq} ${kind} ${payload}\n`, "latin1");
  const rawOf = async (views: [string, Buffer][]): Promise<string> => {
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on("data", (c: Buffer) => chunks.push(c));
    const out = new Output(sink);
    const { emit } = lineEmitter(out, "raw", undefined, true);
    for (const [stream, block] of views)
      await emit({ ref: { origin: "o", stream }, block, start: 0, end: block.length - 1 });
    await out.flush();
    return Buffer.concat(chunks).toString("latin1");
  };

  test("the marker applies to the seq it names in its own stream only, across blocks", async () => {
    assert.equal(
      await rawOf([
        ["a", line(1, ".", "a1")],
        ["a", line(2, "!nolf", "seq=3 session=x")],
        ["b", line(3, ".", "b3")], // another stream's seq 3, in between: keeps its LF
        ["a", line(3, ".", "a3")],
        ["a", line(4, ".", "a4")],
      ]),
      "a1\nb3\na3a4\n",
    );
  });

  test("a marker whose record was lost in a crash changes nothing: its seq is a collector record", async () => {
    // recovery keeps a prefix of what was appended: the marker may survive without its record,
    // and the seq it names then goes to the next session's !open
    assert.equal(
      await rawOf([
        ["a", line(1, ".", "a1")],
        ["a", line(2, "!nolf", "seq=3 session=x")],
        ["a", line(3, "!open", "session=y transport=local format=lines")],
        ["a", line(4, ".", "a4")],
      ]),
      "a1\na4\n",
    );
  });

  test("together: one receive time, and all or nothing", async () => {
    const clock = manualClock();
    const store = await Store.open(tempDir(), { clock, maxRecordBytes: 1024 });
    const w = await store.stream("a", "s");
    w.together(() => {
      w.appendCollector("nolf", "seq=2");
      clock.advance(1000);
      w.appendRecords([Buffer.from("x")]);
    });
    const before = { seq: w.nextSeq, bytes: w.pendingBytes };
    assert.throws(
      () =>
        w.together(() => {
          w.appendCollector("nolf", "seq=4");
          w.appendRecords([Buffer.alloc(2000)]);
        }),
      /larger than the store's limit/,
    );
    assert.deepEqual({ seq: w.nextSeq, bytes: w.pendingBytes }, before);
    w.appendRecords([Buffer.from("y")]);
    await store.close();
    const recs = await readAll(store.root, "a", "s");
    assert.deepEqual(
      recs.map((r) => [r.seq, r.kind]),
      [
        [1, "!nolf"],
        [2, "."],
        [3, "."],
      ],
    );
    assert.equal(recs[0]!.time, recs[1]!.time);
    assert.ok(recs[2]!.time > recs[1]!.time);
  });
});
