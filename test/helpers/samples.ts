// The real EVTX and BSM files of test/fixtures/samples (README.md there says where they come
// from), and the setup the object tests share: both sent through the real ingest.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ingest } from "./daemon.ts";

export const SAMPLES = join(import.meta.dirname, "../fixtures/samples");
export const EVTX = readFileSync(join(SAMPLES, "System2.evtx"));
export const BSM = readFileSync(join(SAMPLES, "apple.bsm"));
export const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/**
 * Sends EVTX as win10/evtx and BSM as mac/audit, each through a real `ingest --format blob`
 * into the collector serving `store`: each is object 2 of its stream (after its `!open`).
 */
export async function ingestSamples(store: string): Promise<void> {
  const r1 = await ingest(store, "blob", EVTX, {
    QREXEC_REMOTE_DOMAIN: "win10",
    QREXEC_SERVICE_ARGUMENT: "evtx",
  });
  assert.equal(r1.code, 0, r1.stderr);
  const r2 = await ingest(store, "blob", BSM, {
    QREXEC_REMOTE_DOMAIN: "mac",
    QREXEC_SERVICE_ARGUMENT: "audit",
  });
  assert.equal(r2.code, 0, r2.stderr);
}
