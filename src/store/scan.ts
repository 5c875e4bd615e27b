// Describing a segment from its bytes alone: used when the index lacks an entry (a crash
// between sealing and writing the index, or a damaged index) and when sealing, to find the
// last resume reference. Slow paths: they read the whole segment.

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { zstdDecompressSync } from "node:zlib";
import { LF, parseLine } from "./record.ts";
import type { SegmentMeta } from "./segment.ts";

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

export async function describeSegment(
  dir: string,
  file: string,
  firstSeq: number,
  compressed: boolean,
): Promise<SegmentMeta> {
  const path = join(dir, file);
  const onDisk = await readFile(path);
  const text = compressed ? zstdDecompressSync(onDisk) : onDisk;
  let end = text.length;
  if (end > 0 && text[end - 1] !== LF) end = text.lastIndexOf(LF) + 1;
  const firstEnd = text.indexOf(LF);
  const first = firstEnd === -1 ? null : parseLine(text, 0, firstEnd);
  const lastStart = end > 0 ? text.lastIndexOf(LF, end - 2) + 1 : 0;
  const last = end > 0 ? parseLine(text, lastStart, end - 1) : null;
  return {
    file,
    firstSeq,
    lastSeq: last?.seq ?? firstSeq - 1,
    firstTime: first?.time ?? "",
    lastTime: last?.time ?? "",
    records: last ? last.seq - firstSeq + 1 : 0,
    bytes: onDisk.length,
    rawBytes: text.length,
    compressed,
    lastRef: lastRefIn(text, end > 0 ? end - 1 : 0),
  };
}
