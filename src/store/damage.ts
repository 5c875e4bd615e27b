// A damaged range met by a reader: a frame of a compressed segment that fails to decompress
// (a flipped bit, a torn page: zstd's checksum catches it) or whose bytes the disk cannot read
// (EIO). Readers report the range in one sentence and go on with the rest of the stream, so one
// bad sector costs the records of one frame, not every record after it. The report goes to
// stderr, or, inside `collectDamage` (the web UI's requests), to the caller that answers the page.

import type { AsyncLocalStorage } from "node:async_hooks";
import { basename, dirname } from "node:path";

/** Records a reader skipped because their bytes could not be read back. */
export interface DamagedRange {
  /** origin/stream */
  stream: string;
  /** The segment file (its name only). */
  file: string;
  firstSeq: number;
  lastSeq: number;
  /** The receive time of the first record of the range, and the last known bound after it. */
  firstTime: string;
  lastTime: string;
  /** Why: zlib's or the disk's message (fixed strings, never stored bytes). */
  reason: string;
}

/** The one sentence a reader prints for a damaged range. */
export function damagedSentence(d: DamagedRange): string {
  const records = d.firstSeq === d.lastSeq ? `record ${d.firstSeq}` : `records ${d.firstSeq} to ${d.lastSeq}`;
  return (
    `logward: ${records} of ${d.stream} (${d.firstTime ? `${d.firstTime} to ${d.lastTime}, ` : ""}in ${d.file}) cannot be read ` +
    `and are skipped: ${d.reason.replace(/[^\x20-\x7e]/g, "?").replace(/\.$/, "")}.`
  );
}

/** Ranges already printed: a reader that passes over a stream twice (a count, then the copy) says it once. */
const printed = new Set<string>();

/** Where readers report a damaged range; replace `report` to collect them elsewhere. */
export const damage = {
  report(d: DamagedRange): void {
    const key = `${d.stream} ${d.file} ${d.firstSeq}`;
    if (printed.has(key)) return;
    printed.add(key);
    process.stderr.write(`${damagedSentence(d)}\n`);
  },
};

/**
 * The ranges met inside the `collectDamage` call that is running, if any. Made by the first
 * such call, not when this module loads: an AsyncLocalStorage loads Node's async context
 * modules, about 1.4 ms of the start of `show` or `ls`, which never collect (and so does an
 * `import` of node:async_hooks, whose ES module facade reads every export).
 */
let scope: AsyncLocalStorage<DamagedRange[]> | undefined;

/** Runs `fn`, handing back the damaged ranges its reads met instead of printing them. */
export async function collectDamage<T>(fn: () => Promise<T>): Promise<{ value: T; damaged: DamagedRange[] }> {
  const damaged: DamagedRange[] = [];
  scope ??= new (process.getBuiltinModule("node:async_hooks").AsyncLocalStorage)<DamagedRange[]>();
  const value = await scope.run(damaged, fn);
  return { value, damaged };
}

/** The range of `dir`'s segment `file` that could not be read, reported through `damage`. */
export function reportDamaged(
  dir: string,
  file: string,
  range: { firstSeq: number; lastSeq: number; firstTime: string; lastTime: string },
  err: unknown,
): void {
  const e = err as NodeJS.ErrnoException;
  const reason =
    e?.code && !String(e.message).includes(e.code) ? `${e.code}: ${e.message}` : String(e?.message ?? err);
  passOn({ stream: `${basename(dirname(dir))}/${basename(dir)}`, file, ...range, reason });
}

/**
 * Hands `d` to the `collectDamage` call running, if any, else prints it: how a reader that
 * collected ranges for itself (export, for its manifest) passes them on to its own caller.
 */
export function passOn(d: DamagedRange): void {
  const collected = scope?.getStore();
  if (collected) {
    if (!collected.some((c) => c.file === d.file && c.firstSeq === d.firstSeq)) collected.push(d);
  } else damage.report(d);
}
