// Describing a segment from its bytes alone: used when the index lacks an entry (a crash
// between sealing and writing the index, or a damaged index) and when sealing, to find the
// last resume reference. Slow paths: they read the whole segment.

import { join } from "node:path";
import { readFileNoFollow } from "./files.ts";
import { LF, parseLine } from "./record.ts";
import type { SegmentMeta } from "./segment.ts";
import { decompressFramesSync } from "./zstd-frames.ts";

/** The resume reference of the last record in `text[0, end)` that has one, or null. */
export function lastRefIn(text: Buffer, end = text.length): string | null {
  let lineEnd = end;
  while (lineEnd > 0) {
    const start = lineEnd === 0 ? 0 : text.lastIndexOf(LF, lineEnd - 1) + 1;
    // cheap pre-check: the kind field holds '@' only when there is a ref
    const p = parseLine(text, start, lineEnd);
    if (p?.ref !== undefined) return p.ref;
    if (start === 0) break;
    lineEnd = start - 1;
  }
  return null;
}

/**
 * A segment's figures from its bytes. A compressed segment with a damaged frame (or cut short)
 * holds the records up to the next segment's (`nextFirstSeq`), times from the frames before the
 * damage: readers name the rest as a damaged range, and recovery numbers on after it. Without a
 * next segment the error is thrown: nothing bounds what the damaged frames held.
 */
export async function describeSegment(
  dir: string,
  file: string,
  firstSeq: number,
  compressed: boolean,
  nextFirstSeq?: number,
): Promise<SegmentMeta> {
  const path = join(dir, file);
  const onDisk = await readFileNoFollow(path);
  let text: Buffer = onDisk;
  let damaged = false;
  if (compressed) {
    const frames = decompressFramesSync(onDisk);
    if (frames.error !== null && nextFirstSeq === undefined) throw frames.error;
    text = frames.text;
    damaged = frames.error !== null;
  }
  let end = text.length;
  if (end > 0 && text[end - 1] !== LF) end = text.lastIndexOf(LF) + 1;
  const firstEnd = text.indexOf(LF);
  const first = firstEnd === -1 ? null : parseLine(text, 0, firstEnd);
  const lastStart = end > 0 ? text.lastIndexOf(LF, end - 2) + 1 : 0;
  const last = end > 0 ? parseLine(text, lastStart, end - 1) : null;
  const lastSeq = damaged ? nextFirstSeq! - 1 : (last?.seq ?? firstSeq - 1);
  return {
    file,
    firstSeq,
    lastSeq,
    firstTime: first?.time ?? "",
    lastTime: last?.time ?? "",
    records: lastSeq - firstSeq + 1,
    bytes: onDisk.length,
    // a damaged segment has no raw size: readers decompress it whole, frame by frame
    rawBytes: damaged ? 0 : text.length,
    compressed,
    lastRef: lastRefIn(text, end > 0 ? end - 1 : 0),
  };
}
