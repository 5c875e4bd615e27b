// search's scan workers (src/query/scan-pool.ts): a plain string searched or counted in worker
// threads gives exactly what the main thread gives (hits in the same order, counts, the
// streams' objects), over sealed compressed segments (decompressed in the worker) and active
// ones, in a time window; a damaged frame is reported as the main thread reports it; a
// worker's error comes back as the same LogwardError; a search abandoned after its first hit
// ends its workers.
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { scanSettings, scanStats } from "../src/query/scan-pool.ts";
import { type Announced, compileMatcher, countFixed, type Hit, searchRecords } from "../src/query/search.ts";
import { collectDamage } from "../src/store/damage.ts";
import { listStreams, type StreamRef, type Window } from "../src/store/read.ts";
import { Store } from "../src/store/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const ALWAYS = 0;
const NEVER = Number.MAX_SAFE_INTEGER;

async function makeStore(): Promise<string> {
  const root = join(tempDir(), "store");
  let now = Date.parse("2026-03-01T00:00:00Z") * 1000;
  // small segments, compressed: hits in sealed .zst segments and in the active one
  const store = await Store.open(root, { clock: () => now, maxSegmentBytes: 8192, frameBytes: 4096 });
  for (const origin of ["a", "b"])
    for (const stream of ["main", "app"]) {
      const w = await store.stream(origin, stream);
      for (let i = 0; i < 400; i++) {
        now += 1_000_000;
        w.appendRecords([
          Buffer.from(`${origin}/${stream} ${i} ${i % 9 === 4 ? "NEEDLE" : "hay"} ${"z".repeat(40)}`),
        ]);
      }
      // a hit longer than a worker's batch (256 KiB): a batch of its own
      if (origin === "b" && stream === "app")
        w.appendRecords([Buffer.from(`big NEEDLE ${"y".repeat(300 * 1024)}`)]);
      await store.flush();
    }
  await store.idle();
  await store.close();
  return root;
}

async function collect(root: string, refs: StreamRef[], w: Window, fromBytes: number): Promise<string[]> {
  scanSettings.fromBytes = fromBytes;
  const out: string[] = [];
  for await (const h of searchRecords(root, refs, w, compileMatcher("NEEDLE", {}))) {
    const hit = h as Hit;
    out.push(
      `${hit.v.ref.origin}/${hit.v.ref.stream} ${hit.p.seq} ${hit.v.block.toString("latin1", hit.v.start, hit.v.end)}`,
    );
  }
  return out;
}

test("search and --count in scan workers give what the main thread gives", async (t) => {
  t.after(() => (scanSettings.fromBytes = 64 * 1024 * 1024));
  const root = await makeStore();
  const refs = await listStreams(root);
  assert.equal(refs.length, 4);
  for (const w of [{}, { since: "2026-03-01T00:05:00.000000Z", until: "2026-03-01T00:20:00.000000Z" }]) {
    const before = scanStats.jobs;
    const inWorkers = await collect(root, refs, w, ALWAYS);
    assert.equal(scanStats.jobs - before, refs.length, "each stream scanned in a worker");
    const onMain = await collect(root, refs, w, NEVER);
    assert.equal(scanStats.jobs - before, refs.length, "none with workers off");
    assert.ok(onMain.length > 10);
    if (!("since" in w))
      assert.ok(
        onMain.some((l) => l.length > 256 * 1024),
        "the long hit",
      );
    assert.deepEqual(inWorkers, onMain);

    scanSettings.fromBytes = ALWAYS;
    const objectsW: Announced = new Map();
    const countsW = await countFixed(root, refs, w, Buffer.from("NEEDLE"), null, objectsW);
    scanSettings.fromBytes = NEVER;
    const objectsM: Announced = new Map();
    const countsM = await countFixed(root, refs, w, Buffer.from("NEEDLE"), null, objectsM);
    assert.deepEqual(countsW, countsM);
    assert.equal(
      [...countsW.values()].reduce((a, b) => a + b, 0),
      onMain.length,
    );
    assert.deepEqual(objectsW, objectsM);
  }
});

test("a damaged frame read in a scan worker is reported as on the main thread", async (t) => {
  t.after(() => (scanSettings.fromBytes = 64 * 1024 * 1024));
  const root = await makeStore();
  // a byte flipped inside the second frame of a sealed segment: zstd's checksum fails
  const dir = join(root, "origins", "a", "main");
  const zst = readdirSync(dir).find((f) => f.endsWith(".zst"))!;
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
  const frames = index.segments.find((s: { file: string }) => s.file === zst).frames;
  const bytes = readFileSync(join(dir, zst));
  bytes[frames[1].offset + 20]! ^= 0xff;
  writeFileSync(join(dir, zst), bytes);
  const refs = await listStreams(root);
  const inWorkers = await collectDamage(() => collect(root, refs, {}, ALWAYS));
  const onMain = await collectDamage(() => collect(root, refs, {}, NEVER));
  assert.equal(onMain.damaged.length, 1);
  assert.deepEqual(inWorkers, onMain);
});

test("a scan worker's error is the same LogwardError; an abandoned search ends", async (t) => {
  t.after(() => (scanSettings.fromBytes = 64 * 1024 * 1024));
  const root = await makeStore();
  // a stream directory that is a link: the reader refuses it, in a worker as on the main thread
  const elsewhere = join(tempDir(), "elsewhere");
  mkdirSync(elsewhere);
  symlinkSync(elsewhere, join(root, "origins", "b", "linked"));
  const refs: StreamRef[] = [{ origin: "b", stream: "linked" }];
  const codeOf = async (fromBytes: number) => {
    scanSettings.fromBytes = fromBytes;
    try {
      await countFixed(root, refs, {}, Buffer.from("NEEDLE"));
      return "no error";
    } catch (err) {
      return `${(err as { code?: string }).code}: ${(err as Error).message}`;
    }
  };
  const onMain = await codeOf(NEVER);
  assert.match(onMain, /^LW_/);
  assert.equal(await codeOf(ALWAYS), onMain);
  // after another stream's hits: those come first, then the error, as on the main thread
  const hitsThenError = async (fromBytes: number) => {
    scanSettings.fromBytes = fromBytes;
    const out: string[] = [];
    try {
      const two = [{ origin: "a", stream: "app" }, ...refs];
      for await (const h of searchRecords(root, two, {}, compileMatcher("NEEDLE", {})))
        out.push(String((h as Hit).p.seq));
    } catch (err) {
      out.push((err as { code?: string }).code ?? "?");
    }
    return out;
  };
  const mainOrder = await hitsThenError(NEVER);
  assert.ok(mainOrder.length > 1 && mainOrder.at(-1)!.startsWith("LW_"), mainOrder.join(" "));
  assert.deepEqual(await hitsThenError(ALWAYS), mainOrder);

  // the first hit, then stop: the pool is closed and nothing keeps the test alive
  scanSettings.fromBytes = ALWAYS;
  for await (const h of searchRecords(root, await listStreams(root), {}, compileMatcher("NEEDLE", {}))) {
    assert.ok("v" in h);
    break;
  }
});
