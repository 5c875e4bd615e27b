// A plain-string search reads each stream once: the objects its `!blob` records announce are
// found in the same pass as the hits (search.ts's announcedInBlock), not by a second read of
// the whole stream, and they are the objects listObjects finds. Store made by the real
// `ingest` into a real `serve`; the search is run in this process to count what it read.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { searchObjects } from "../src/query/object-search.ts";
import { listObjects, type ObjectRow } from "../src/query/objects.ts";
import { type Announced, compileMatcher, countFixed, searchRecords } from "../src/query/search.ts";
import { listStreams, readStats } from "../src/store/read.ts";
import { ingest, serve } from "./helpers/daemon.ts";
import { tempDir } from "./helpers/tmp.ts";

const env = (stream: string) => ({ QREXEC_REMOTE_DOMAIN: "work", QREXEC_SERVICE_ARGUMENT: stream });

test("search and search --count read each stream once, objects included", async () => {
  const store = join(tempDir(), "store");
  const d = await serve(store);
  try {
    for (const [format, body, stream] of [
      ["lines", "NEEDLE in a record\nhay\n", "app"],
      ["blob", "hay\nNEEDLE in an object\n", "logs"],
      ["blob", "NEEDLE again, another object\n", "logs"],
      ["lines", "no hit here\n", "logs"],
    ] as const) {
      const r = await ingest(store, format, body, env(stream));
      assert.equal(r.code, 0, r.stderr);
    }
  } finally {
    await d.stop();
  }
  const refs = (await listStreams(store)).filter((r) => r.origin === "work");
  assert.equal(refs.length, 2);
  const m = compileMatcher("NEEDLE", {});
  const w = {};
  const listed: ObjectRow[] = [];
  for await (const o of listObjects(store, refs, w)) listed.push(o);
  assert.equal(listed.length, 2, "two objects announced");

  // search: the hits of the records, then those inside the objects, each stream read once
  readStats.segmentsOpened = 0;
  const notes = { skipped: [], damaged: [] };
  const got: string[] = [];
  for await (const h of searchRecords(store, refs, w, m, undefined, (streams, announced) => {
    assert.ok(announced, "a plain string hands over the objects it found");
    assert.deepEqual(
      [...announced.values()].flat().map((o) => o.sha256),
      listed.map((o) => o.sha256),
    );
    return searchObjects(store, streams, w, m, notes, announced);
  }))
    got.push("object" in h ? `object ${h.object.seq}:L${h.line}` : `record ${h.p.seq}`);
  assert.deepEqual(got.sort(), ["object 2:L2", "object 5:L1", "record 2"].sort());
  assert.equal(readStats.segmentsOpened, refs.length, "one read of each stream's one segment");

  // --count: the counts, and the same objects, in one pass too
  readStats.segmentsOpened = 0;
  const announced: Announced = new Map();
  const counts = await countFixed(store, refs, w, m.needle!, null, announced);
  assert.deepEqual(Object.fromEntries(counts), { "work/app": 1, "work/logs": 0 });
  assert.deepEqual(
    [...announced.values()].flat().map((o) => o.sha256),
    listed.map((o) => o.sha256),
  );
  assert.equal(readStats.segmentsOpened, refs.length);
});
