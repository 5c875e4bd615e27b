// Opaque objects end to end: the real `logward ingest --format blob` (as qrexec runs it) into a
// real `logward serve`, then `get`, `show --objects` and `ls` on the store. Samples are real
// files from public repositories (test/fixtures/samples/README.md).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { zstdCompressSync } from "node:zlib";
import { detectType } from "../src/store/blob-type.ts";
import { announcedObjects, blobPayload } from "../src/store/objects.ts";
import { Store } from "../src/store/store.ts";
import { BlobFrameDecoder, encodeBlobEnd, encodeFrame, FRAME_DATA } from "../src/wire/relay.ts";
import { BIN, logward, onTerminal } from "./helpers/cli.ts";
import { ingest, serve } from "./helpers/daemon.ts";
import { streamText } from "./helpers/store.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

const SAMPLES = join(import.meta.dirname, "fixtures/samples");
const EVTX = readFileSync(join(SAMPLES, "System2.evtx"));
const BSM = readFileSync(join(SAMPLES, "apple.bsm"));
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const env = (origin: string, stream: string) => ({
  QREXEC_REMOTE_DOMAIN: origin,
  QREXEC_SERVICE_ARGUMENT: stream,
});

function objectFiles(store: string, origin: string, stream: string): string[] {
  const dir = join(store, "origins", origin, stream, "objects");
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

test("type detection by magic bytes, on the real samples and the table's other types", () => {
  assert.equal(detectType(EVTX.subarray(0, 65536), false), "evtx");
  assert.equal(detectType(BSM, true), "bsm");
  assert.equal(
    detectType(Buffer.from("d4c3b2a1020004000000000000000000ffff000001000000", "hex"), true),
    "pcap",
  );
  assert.equal(
    detectType(Buffer.from("0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff", "hex"), true),
    "pcapng",
  );
  assert.equal(detectType(Buffer.from("1f8b0800000000000003", "hex"), true), "gzip");
  assert.equal(detectType(zstdCompressSync(Buffer.from("x")), true), "zstd");
  assert.equal(detectType(Buffer.from("Grüße\nsshd[1]: ok\n"), true), "text");
  assert.equal(detectType(Buffer.from("a\0b"), true), "binary");
  assert.equal(detectType(Buffer.from([0x61, 0xff, 0x62]), true), "binary");
  // a character cut by the end of the sniffed bytes is still text; at the object's end it is not
  const cut = Buffer.from("ab€").subarray(0, 4);
  assert.equal(detectType(cut, false), "text");
  assert.equal(detectType(cut, true), "binary");
  // text that merely starts with 0x14 is not BSM
  assert.equal(detectType(Buffer.from("\x14hello world, this is text"), true), "text");
});

test("blob relay framing: data frames, then an end frame with the total; anything else is refused", () => {
  const got: Buffer[] = [];
  const d = new BlobFrameDecoder((b) => got.push(Buffer.from(b)));
  const wire = Buffer.concat([
    encodeFrame(FRAME_DATA, Buffer.from("hello ")),
    encodeFrame(FRAME_DATA, Buffer.from("world")),
    encodeBlobEnd(11),
  ]);
  for (let i = 0; i < wire.length; i += 3) d.push(wire.subarray(i, i + 3)); // split anywhere
  assert.equal(Buffer.concat(got).toString(), "hello world");
  assert.equal(d.endTotal, 11);
  assert.throws(() => d.push(Buffer.from("x")), /after the blob's end frame/);
  const liar = new BlobFrameDecoder(() => {});
  assert.throws(
    () => liar.push(Buffer.concat([encodeFrame(FRAME_DATA, Buffer.from("ab")), encodeBlobEnd(3)])),
    /says 3 bytes, 2 came/,
  );
  assert.throws(
    () => new BlobFrameDecoder(() => {}).push(Buffer.from([0x44, 0x7f, 0, 0, 0])),
    /data frame of/,
  );
  const cut = new BlobFrameDecoder(() => {});
  cut.push(encodeFrame(FRAME_DATA, Buffer.from("abc")));
  assert.equal(cut.endTotal, null); // no end frame yet: not complete
});

test("an object evicted and sent again in the same block is announced again", async () => {
  const root = join(tempDir(), "store");
  const store = await Store.open(root);
  try {
    const w = await store.stream("win10", "evtx");
    const a = { sha256: "a".repeat(64), size: 3, type: "binary" as const, stored: 12 };
    const b = { sha256: "b".repeat(64), size: 4, type: "text" as const, stored: 13 };
    w.appendCollector("blob", blobPayload(a, "s1"));
    w.appendCollector("blob", blobPayload(b, "s2"));
    w.appendCollector("evict", `reason=quota objects=1 seq=1 sha256=${a.sha256} size=3`);
    const again = w.appendCollector("blob", blobPayload(a, "s3"));
    await w.waitDurable();
    const live = await announcedObjects(root, "win10", "evtx");
    assert.deepEqual(
      [...live.values()].map((o) => [o.sha256, o.seq]),
      [
        [b.sha256, 2],
        [a.sha256, again],
      ],
    );
  } finally {
    await store.close();
  }
});

test("real EVTX and BSM samples: stored whole, typed, announced, returned byte for byte; a re-send is stored once", async () => {
  const root = tempDir();
  const store = join(root, "store");
  const d = await serve(store);
  try {
    const a = await ingest(store, "blob", EVTX, env("win10", "evtx"));
    assert.equal(a.code, 0, a.stderr);
    const b = await ingest(store, "blob", BSM, env("mac", "audit"));
    assert.equal(b.code, 0, b.stderr);
    const again = await ingest(store, "blob", EVTX, env("win10", "evtx"));
    assert.equal(again.code, 0, again.stderr);

    const text = streamText(store, "win10", "evtx");
    const blobs = text.split("\n").filter((l) => / !blob /.test(l));
    assert.equal(blobs.length, 1, text);
    assert.match(
      blobs[0]!,
      new RegExp(
        `^\\S+ 2 !blob sha256=${sha(EVTX)} size=${EVTX.length} type=evtx stored=\\d+ session=[0-9a-f]{16}$`,
      ),
    );
    assert.match(
      text,
      new RegExp(
        `!close session=\\S+ records=0 bytes=\\d+ truncated=0 size=${EVTX.length} sha256=${sha(EVTX)} duplicate_of=2 reason=eof`,
      ),
    );
    assert.deepEqual(objectFiles(store, "win10", "evtx"), [`${sha(EVTX)}.zst`]);
    assert.match(
      streamText(store, "mac", "audit"),
      new RegExp(`!blob sha256=${sha(BSM)} size=${BSM.length} type=bsm `),
    );

    // get: exact bytes to stdout (not a terminal) and to a private file
    const out = await logward(["get", "win10/evtx", "2", "--store", store]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(sha(out.stdout), sha(EVTX));
    const file = join(root, "system.evtx");
    const got = await logward(["get", "mac/audit", "2", "-o", file, "--store", store]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(sha(readFileSync(file)), sha(BSM));
    const { statSync } = await import("node:fs");
    assert.equal(statSync(file).mode & 0o777, 0o600);

    // show --objects and ls
    const show = await logward(["show", "win10/evtx", "--objects", "--store", store]);
    assert.match(show.stdout.toString(), new RegExp(`^\\S+Z 2 ${EVTX.length} evtx ${sha(EVTX)}\\n$`));
    const json = await logward(["show", "mac", "--objects", "--json", "--store", store]);
    const row = JSON.parse(json.stdout.toString());
    assert.deepEqual([row.seq, row.size, row.type, row.sha256], [2, BSM.length, "bsm", sha(BSM)]);
    const ls = await logward(["ls", "--json", "--store", store]);
    const evtxRow = JSON.parse(ls.stdout.toString()).find((r: { origin: string }) => r.origin === "win10");
    assert.equal(evtxRow.objects, 1);
    assert.ok(evtxRow.object_bytes > 0 && evtxRow.bytes > evtxRow.object_bytes);
    const lsText = (await logward(["ls", "--store", store])).stdout.toString();
    assert.match(lsText, /SEGMENTS\s+OBJECTS\s+STATE/);

    // the object is a plain zstd file: no logward needed to read it
    const { zstdDecompressSync } = await import("node:zlib");
    const raw = readFileSync(join(store, "origins/win10/evtx/objects", `${sha(EVTX)}.zst`));
    assert.equal(sha(zstdDecompressSync(raw)), sha(EVTX));

    // one clear sentence for a seq that is not an object, or not there
    const notObj = await logward(["get", "win10/evtx", "1", "--store", store]);
    assert.equal(notObj.code, 1);
    assert.match(notObj.stderr, /LW_NOT_OBJECT|is not an object/);
    const missing = await logward(["get", "win10/evtx", "999", "--store", store]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /has no record 999/);
  } finally {
    await d.stop();
  }
  // a binary object is not written to a terminal
  const tty = await onTerminal(["get", "win10/evtx", "2", "--store", store]);
  assert.equal(tty.code, 2, tty.screen);
  assert.match(tty.screen, /is evtx, not text, and standard output is a terminal; use -o FILE/);
});

test("a changed object file fails get with LW_OBJECT_CORRUPT and leaves no -o file", async () => {
  const root = tempDir();
  const store = join(root, "store");
  const d = await serve(store);
  try {
    assert.equal((await ingest(store, "blob", BSM, env("mac", "audit"))).code, 0);
  } finally {
    await d.stop();
  }
  const path = join(store, "origins/mac/audit/objects", `${sha(BSM)}.zst`);
  const forged = Buffer.from(BSM);
  forged[100] = forged[100]! ^ 1;
  writeFileSync(path, zstdCompressSync(forged));
  const file = join(root, "out.bsm");
  const r = await logward(["get", "mac/audit", "2", "-o", file, "--store", store]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /does not match its record/);
  assert.equal(existsSync(file), false);
  assert.deepEqual(
    readdirSync(root).filter((f) => f.includes("out.bsm")),
    [],
  );
});

test("over max_blob: refused at the limit, nothing stored, the close record and an alert say why", async () => {
  const root = tempDir();
  const store = join(root, "store");
  const d = await serve(store, '[store]\nmax_blob = "64KiB"\n');
  try {
    const r = await ingest(store, "blob", EVTX, env("win10", "evtx"));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /larger than max_blob \(65536 bytes\); nothing was stored/);
    const text = streamText(store, "win10", "evtx");
    assert.doesNotMatch(text, /!blob/);
    assert.match(text, /!close .*reason="refused: the object is larger than max_blob/);
    assert.deepEqual(objectFiles(store, "win10", "evtx"), []);
    await until("the alert", () =>
      /alert=blob-refused origin=win10/.test(streamText(store, "_logward", "alerts")),
    );
    // a small one still goes in
    assert.equal((await ingest(store, "blob", BSM, env("win10", "evtx"))).code, 0);
    assert.equal(objectFiles(store, "win10", "evtx").length, 1);
  } finally {
    await d.stop();
  }
});

test("an empty call stores no object and says so; exit 0", async () => {
  const root = tempDir();
  const store = join(root, "store");
  const d = await serve(store);
  try {
    const r = await ingest(store, "blob", Buffer.alloc(0), env("win10", "evtx"));
    assert.equal(r.code, 0, r.stderr);
    const text = streamText(store, "win10", "evtx");
    assert.doesNotMatch(text, /!blob/);
    assert.match(text, /!close .* size=0 object=none reason=eof/);
    assert.deepEqual(objectFiles(store, "win10", "evtx"), []);
  } finally {
    await d.stop();
  }
});

test("kill -9 of ingest midway: nothing is stored, the close record says it was cut off", async () => {
  const root = tempDir();
  const store = join(root, "store");
  const d = await serve(store);
  try {
    const proc = spawn(process.execPath, [BIN, "ingest", "--format", "blob", "--store", store], {
      stdio: ["pipe", "ignore", "ignore"],
      env: { PATH: process.env.PATH, ...env("win10", "evtx") },
    });
    proc.stdin.on("error", () => {});
    proc.stdin.write(EVTX); // the whole object, but never the end of stdin
    const objDir = join(store, "origins/win10/evtx/objects");
    // the collector is receiving: its temporary file exists
    await until(
      "the object's temporary file",
      () => existsSync(objDir) && readdirSync(objDir).some((f) => f.endsWith(".tmp")),
    );
    await new Promise((r) => setTimeout(r, 200));
    proc.kill("SIGKILL");
    await until("the close record", () => /!close/.test(streamText(store, "win10", "evtx")));
    const text = streamText(store, "win10", "evtx");
    assert.doesNotMatch(text, /!blob/);
    assert.match(
      text,
      /!close .*reason="cut off: the connection ended before the object's end frame; nothing was stored"/,
    );
    await until("the temporary file removed", () => readdirSync(objDir).length === 0);
    // the same bytes sent whole afterwards are stored, once
    assert.equal((await ingest(store, "blob", EVTX, env("win10", "evtx"))).code, 0);
    assert.deepEqual(objectFiles(store, "win10", "evtx"), [`${sha(EVTX)}.zst`]);
  } finally {
    await d.stop();
  }
});

test("concurrent sends of the same bytes: one object, one !blob, every call acknowledged", async () => {
  const root = tempDir();
  const store = join(root, "store");
  const d = await serve(store);
  try {
    const results = await Promise.all(
      [1, 2, 3, 4].map(() => ingest(store, "blob", EVTX, env("win10", "evtx"))),
    );
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const text = streamText(store, "win10", "evtx");
    assert.equal(text.split("\n").filter((l) => / !blob /.test(l)).length, 1, text);
    assert.equal((text.match(/duplicate_of=\d+/g) ?? []).length, 3);
    assert.deepEqual(objectFiles(store, "win10", "evtx"), [`${sha(EVTX)}.zst`]);
  } finally {
    await d.stop();
  }
});
