// Finding a place by receive time (or by sequence number) in a stream's text without reading
// what comes before it: binary searches over line starts, in a block in memory (lineAtTime) or
// in a plain segment file (seekLine, seekTime). A stream's times and sequence numbers never
// decrease, which is what makes them searchable. Used by the readers (read.ts) and `--follow`.

import type { Readable } from "./read-handle.ts";
import { LF, TIME_LEN } from "./record.ts";

/** Negative when the line at `lineStart` was received before `time`, 0 when at, positive after. */
function timeCompare(block: Buffer, lineStart: number, time: Buffer): number {
  // a damaged line shorter than a time compares by what it has, and never reads past the block
  return block.compare(time, 0, TIME_LEN, lineStart, Math.min(lineStart + TIME_LEN, block.length));
}

/**
 * The first line start at or after `from` (itself a line start) whose time is not before
 * `time`, or block.length: a binary search, since a stream's times never decrease. A window
 * inside a 1 MiB frame costs about 20 comparisons instead of one per line before it (which
 * profiled at 4 ms of a one-minute `show`).
 */
export function lineAtTime(block: Buffer, from: number, time: Buffer): number {
  let lo = from;
  let hi = block.length;
  while (lo < hi) {
    const mid = lo + ((hi - lo) >> 1);
    // the start of the line holding mid; lo is a line start, so this is never before lo
    // (and lastIndexOf is not asked at -1, which would count from the block's end)
    const ls = mid === lo ? lo : block.lastIndexOf(LF, mid - 1) + 1;
    if (timeCompare(block, ls, time) < 0) lo = block.indexOf(LF, ls) + 1;
    else hi = ls;
  }
  return lo;
}

/** Offset of a line start at or before the first line with time >= since. */
export function seekTime(fh: Readable, size: number, since: string): Promise<number> {
  const target = Buffer.from(since, "latin1");
  return seekLine(fh, size, (probe, ls) => probe.compare(target, 0, TIME_LEN, ls, ls + TIME_LEN) < 0);
}

/**
 * Binary search over the line starts of a plain segment: returns the offset of a line start
 * such that every line before it satisfies `before` (which must hold for a prefix of the lines).
 * The caller scans forward from there; the search only saves reading what comes before.
 */
export async function seekLine(
  fh: Readable,
  size: number,
  before: (probe: Buffer, lineStart: number) => boolean,
): Promise<number> {
  let lo = 0;
  let hi = size;
  const probe = Buffer.allocUnsafe(16 * 1024);
  while (hi - lo > 64 * 1024) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const { bytesRead } = await fh.read(probe, 0, probe.length, mid);
    const lf = probe.subarray(0, bytesRead).indexOf(LF);
    const ls = mid + lf + 1;
    if (lf === -1 || lf + 1 + TIME_LEN + 20 > bytesRead || ls >= hi) {
      hi = mid; // no line start we can read between mid and hi: narrow from above
      continue;
    }
    if (before(probe, lf + 1)) lo = ls;
    else hi = ls;
  }
  return lo;
}
