// A stream's type (the format of its newest `!open`) is kept in index.json, so that `open`
// need not read the whole stream to choose a viewer; stores written before fall back to a scan.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { streamType } from "../src/query/open.ts";
import { Store } from "../src/store/store.ts";
import { tempDir } from "./helpers/tmp.ts";

const ref = { origin: "vm", stream: "s" };

function indexOf(root: string): { format: number; segments: unknown[]; type?: string } {
  return JSON.parse(readFileSync(join(root, "origins/vm/s/index.json"), "utf8"));
}

async function openSession(store: Store, format: string): Promise<void> {
  const w = await store.stream("vm", "s");
  const seq = w.appendCollector("open", `session=x transport=local format=${format}`);
  w.declareType(format, seq);
  w.appendRecords([Buffer.from(`a ${format} record`)]);
  await store.idle();
}

test("the declared type is in index.json once its !open is durable, and survives a restart", async () => {
  const root = tempDir();
  let store = await Store.open(root);
  await openSession(store, "journal");
  assert.equal(indexOf(root).type, "journal");
  await openSession(store, "journal");
  await openSession(store, "octets");
  assert.equal(indexOf(root).type, "octets");
  await store.close();
  assert.equal(await streamType(root, ref), "octets");

  // a restart keeps it, and a seal (which rewrites the index) carries it
  store = await Store.open(root);
  const w = await store.stream("vm", "s");
  w.appendRecords([Buffer.from("more")]);
  await w.requestSeal();
  await store.idle();
  assert.ok(indexOf(root).segments.length >= 1);
  assert.equal(indexOf(root).type, "octets");
  await store.close();
  assert.equal(await streamType(root, ref), "octets");
});

test("streamType reads the index, and scans a stream whose index has no type", async () => {
  const root = tempDir();
  const store = await Store.open(root);
  await openSession(store, "journal");
  await store.close();
  const path = join(root, "origins/vm/s/index.json");

  // the index, not the records, answers
  writeFileSync(path, `${JSON.stringify({ ...indexOf(root), type: "agent" })}\n`);
  assert.equal(await streamType(root, ref), "agent");

  // an older store (no type) or a damaged one: the newest !open in the stream
  const { type: _, ...old } = indexOf(root);
  writeFileSync(path, `${JSON.stringify(old)}\n`);
  assert.equal(await streamType(root, ref), "journal");
  writeFileSync(path, `${JSON.stringify({ ...old, type: "../x y" })}\n`);
  assert.equal(await streamType(root, ref), "journal");
  writeFileSync(path, "{not json");
  assert.equal(await streamType(root, ref), "journal");
});

test("a stream no session opened has no type and reads as lines", async () => {
  const root = tempDir();
  const store = await Store.open(root);
  const w = await store.stream("vm", "s");
  w.appendRecords([Buffer.from("x")]);
  await store.idle();
  await store.close();
  assert.equal(await streamType(root, ref), "lines");
});
