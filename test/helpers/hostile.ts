// Helpers shared by the hostile-* tests (issue 21): reading how the collector ended a raw
// relay session, and measuring how much disk a store takes, so each test asserts on the
// same reading of the end frame and the same byte count.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { FRAME_END, FrameDecoder } from "../../src/wire/relay.ts";

/** The end frame in the bytes a raw session received, or `{ ok: false }` when there is none. */
export function endOf(buf: Buffer): { ok: boolean; message: string } {
  let end = { ok: false, message: "no end frame" };
  new FrameDecoder((type, p) => {
    if (type === FRAME_END) end = JSON.parse(p.toString());
  }).push(buf);
  return end;
}

/** Bytes of every file under `dir`, recursively (what `du -b` would count for the files). */
export function duBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? duBytes(p) : statSync(p).size;
  }
  return n;
}
