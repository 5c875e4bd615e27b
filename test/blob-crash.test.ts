// Blob streams across crashes of the real collector (kill -9), and quota eviction of objects.
// Nothing acknowledged is lost, nothing is stored twice, and nothing unacknowledged stays.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { zstdCompressSync } from "node:zlib";
import { BIN, logward } from "./helpers/cli.ts";
import { ingest, serve } from "./helpers/daemon.ts";
import { tempDir } from "./helpers/tmp.ts";
import { until } from "./helpers/until.ts";

const EVTX = readFileSync(join(import.meta.dirname, "fixtures/samples/System2.evtx"));
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const env = { QREXEC_REMOTE_DOMAIN: "win10", QREXEC_SERVICE_ARGUMENT: "evtx" };

function streamText(store: string): string {
  const dir = join(store, "origins/win10/evtx");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".log"))
    .sort()
    .map((f) => readFileSync(join(dir, f), "utf8"))
    .join("");
}
const objDir = (store: string) => join(store, "origins/win10/evtx/objects");
const objects = (store: string) => (existsSync(objDir(store)) ? readdirSync(objDir(store)).sort() : []);
const blobCount = (store: string) =>
  streamText(store)
    .split("\n")
    .filter((l) => / !blob /.test(l)).length;

test("kill -9 of serve while an object streams in: ingest fails, nothing is kept, a re-send is stored once", async () => {
  const store = join(tempDir(), "store");
  const d = await serve(store);
  const proc = spawn(process.execPath, [BIN, "ingest", "--format", "blob", "--store", store], {
    stdio: ["pipe", "ignore", "pipe"],
    env: { PATH: process.env.PATH, ...env },
  });
  let err = "";
  proc.stderr.on("data", (c: Buffer) => {
    err += c;
  });
  proc.stdin.on("error", () => {});
  proc.stdin.write(EVTX);
  await until("the temporary object", () => objects(store).some((f) => f.endsWith(".tmp")));
  d.proc.kill("SIGKILL");
  const code = await new Promise<number | null>((r) => proc.on("close", r));
  assert.equal(code, 1, err);
  assert.match(err, /before confirming/);
  assert.ok(
    objects(store).some((f) => f.endsWith(".tmp")),
    "the crash left the temporary file",
  );

  const again = await serve(store);
  try {
    assert.deepEqual(objects(store), [], "recovery removed the temporary file");
    assert.equal(blobCount(store), 0);
    assert.equal((await ingest(store, "blob", EVTX, env)).code, 0);
    assert.deepEqual(objects(store), [`${sha(EVTX)}.zst`]);
    assert.equal(blobCount(store), 1);
  } finally {
    await again.stop();
  }
});

test("kill -9 of serve after the object's rename, before its record is durable: recovery removes it, a re-send stores it once", async () => {
  const store = join(tempDir(), "store");
  const d = await serve(store, undefined, { LOGWARD_FAULT: "after-object-rename" });
  const r = await ingest(store, "blob", EVTX, env);
  assert.equal(r.code, 1, "not acknowledged");
  if (d.proc.exitCode === null && d.proc.signalCode === null)
    await new Promise((res) => d.proc.once("exit", res));
  assert.equal(d.proc.signalCode, "SIGKILL");
  // the crash window: the object is under its final name, no record names it
  assert.deepEqual(objects(store), [`${sha(EVTX)}.zst`]);
  assert.equal(blobCount(store), 0);

  const again = await serve(store);
  try {
    assert.deepEqual(objects(store), [], "an object no !blob names was never acknowledged: removed");
    const ls = JSON.parse((await logward(["ls", "--json", "--store", store])).stdout.toString()) as {
      origin: string;
      objects: number;
    }[];
    assert.equal(ls.find((x) => x.origin === "win10")!.objects, 0);
    assert.equal((await ingest(store, "blob", EVTX, env)).code, 0);
    assert.equal((await ingest(store, "blob", EVTX, env)).code, 0);
    assert.deepEqual(objects(store), [`${sha(EVTX)}.zst`]);
    assert.equal(blobCount(store), 1, "stored once");
    assert.match(streamText(store), /duplicate_of=\d+ reason=eof/);
    const got = await logward([
      "get",
      "win10/evtx",
      /(\d+) !blob/.exec(streamText(store))![1]!,
      "--store",
      store,
    ]);
    assert.equal(sha(got.stdout), sha(EVTX));
  } finally {
    await again.stop();
  }
});

test("recovery keeps an announced object, removes temporaries and unannounced files placed by hand", async () => {
  const store = join(tempDir(), "store");
  const d = await serve(store);
  try {
    assert.equal((await ingest(store, "blob", EVTX, env)).code, 0);
  } finally {
    await d.stop();
  }
  const stray = randomBytes(1000);
  writeFileSync(join(objDir(store), `${sha(stray)}.zst`), zstdCompressSync(stray));
  writeFileSync(join(objDir(store), "0123456789abcdef.tmp"), "half");
  mkdirSync(join(objDir(store), "not-an-object"));
  const again = await serve(store);
  try {
    assert.deepEqual(objects(store), [`${sha(EVTX)}.zst`, "not-an-object"]);
  } finally {
    await again.stop();
  }
});

test("quota drop-oldest evicts the oldest objects, says so with !evict, and get says the object is gone", async () => {
  const store = join(tempDir(), "store");
  const d = await serve(store, '[[policy]]\nmatch = "win*"\nquota = "96KiB"\non_quota = "drop-oldest"\n');
  const blobs = [1, 2, 3, 4].map(() => randomBytes(40 * 1024)); // incompressible: 40 KiB each on disk
  try {
    for (const b of blobs) assert.equal((await ingest(store, "blob", b, env)).code, 0);
    await until("an eviction", () => /!evict reason=quota objects=1 /.test(streamText(store)));
    await until("within quota", () => objects(store).length <= 2);
  } finally {
    await d.stop();
  }
  const text = streamText(store);
  const first = /(\d+) !blob sha256=(\S+)/.exec(text)!;
  assert.equal(first[2], sha(blobs[0]!));
  assert.match(
    text,
    new RegExp(
      `!evict reason=quota objects=1 seq=${first[1]} sha256=${sha(blobs[0]!)} size=40960 type=binary `,
    ),
  );
  assert.ok(!objects(store).includes(`${sha(blobs[0]!)}.zst`));
  assert.ok(objects(store).includes(`${sha(blobs[3]!)}.zst`), "the newest stays");
  const gone = await logward(["get", "win10/evtx", first[1]!, "--store", store]);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /is no longer stored: it was evicted/);
  // after a restart the evicted object is not counted again, and a re-send stores it anew
  const again = await serve(store);
  try {
    assert.equal((await ingest(store, "blob", blobs[0]!, env)).code, 0);
    assert.equal(
      streamText(store)
        .split("\n")
        .filter((l) => l.includes(`!blob sha256=${sha(blobs[0]!)}`)).length,
      2,
    );
  } finally {
    await again.stop();
  }
});
