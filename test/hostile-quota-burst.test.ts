// Hostile probe of drop-oldest (issue 21): a burst much larger than a segment must not make the
// collector evict far more than the quota asks, and `ls` must show the use after eviction.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { after, test } from "node:test";
import { logward } from "./helpers/cli.ts";
import { type Daemon, ingest, serve } from "./helpers/daemon.ts";
import { tempDir } from "./helpers/tmp.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const SEGMENT = 64 * KiB;
const QUOTA = MiB;

interface Row {
  origin: string;
  bytes: number;
  origin_bytes: number | null;
  quota: number | null;
}

let d: Daemon | undefined;
after(async () => {
  await d?.stop();
});

async function rows(store: string): Promise<Row[]> {
  const r = await logward(["ls", "--json", "--store", store]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout.toString()) as Row[]).filter((x) => x.origin === "burst");
}

test("a burst of 4 MiB into a 1 MiB drop-oldest quota keeps about 1 MiB, and ls says so", async () => {
  const store = join(tempDir(), "store");
  d = await serve(
    store,
    `[store]\nsegment_size = "64KiB"\n[[policy]]\nmatch = "burst"\nquota = "1MiB"\non_quota = "drop-oldest"\n`,
  );
  // incompressible lines, so what is on disk is what was sent
  const lines: string[] = [];
  for (let n = 0; n < 4 * MiB; n += 1001) lines.push(randomBytes(750).toString("base64"));
  const r = await ingest(store, "lines", `${lines.join("\n")}\n`, { QREXEC_REMOTE_DOMAIN: "burst" });
  assert.equal(r.code, 0, r.stderr);
  // eviction and the state file settle within moments of the last write
  let last: Row[] = [];
  for (let i = 0; i < 50; i++) {
    last = await rows(store);
    const onDisk = last.reduce((s, x) => s + x.bytes, 0);
    const told = last[0]?.origin_bytes ?? 0;
    if (onDisk <= QUOTA + SEGMENT && Math.abs(told - onDisk) < 32 * KiB) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  const onDisk = last.reduce((s, x) => s + x.bytes, 0);
  assert.ok(onDisk <= QUOTA + SEGMENT, `kept ${onDisk} bytes, more than the quota and a segment`);
  assert.ok(onDisk >= QUOTA - 2 * SEGMENT, `kept only ${onDisk} bytes of a ${QUOTA}-byte quota`);
  const told = last[0]!.origin_bytes!;
  assert.ok(Math.abs(told - onDisk) < 32 * KiB, `ls says ${told} bytes, the streams hold ${onDisk}`);
  assert.ok(told <= QUOTA + SEGMENT, `ls shows ${Math.round((100 * told) / QUOTA)}% of the quota`);
});
