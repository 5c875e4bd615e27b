// Segment files and the per-stream segment index (docs/FORMAT.md, "Segments", "Index").
//
// A stream directory holds:
//   00000000000000000001.log        the active segment (plain text, appended to)
//   00000000000000000001.log.zst    a sealed, compressed segment (independent zstd frames)
//   index.json                      metadata of sealed segments, rewritten atomically
// The segment files are the truth; index.json is a cache that recovery checks and rebuilds.
// The name of a segment is the sequence number of its first record, zero-padded to 20 digits
// so that names sort in sequence order.

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { LogwardError } from "../errors.ts";
import { writeFileAtomic } from "./files.ts";
import { FORMAT_VERSION } from "./record.ts";

export const INDEX_FILE = "index.json";
const NAME_RE = /^(\d{20})\.log(\.zst)?$/;

/** One independent zstd frame of a compressed segment: where it starts and what it holds first. */
export interface FrameMeta {
  /** Offset of the frame in the compressed file. */
  offset: number;
  /** Offset of its first byte in the uncompressed text. */
  rawOffset: number;
  firstSeq: number;
  firstTime: string;
}

/** What the index knows about a sealed segment. */
export interface SegmentMeta {
  file: string;
  firstSeq: number;
  lastSeq: number;
  firstTime: string;
  lastTime: string;
  records: number;
  /** Bytes on disk (compressed size for a compressed segment). */
  bytes: number;
  /** Bytes of text (uncompressed size). */
  rawBytes: number;
  compressed: boolean;
  /** The resume reference of the last record that had one, if any. */
  lastRef: string | null;
  frames?: FrameMeta[];
}

/** A removed segment as its `!evict` record (and a deletion's) names it, after `reason=…`. */
export function segmentFields(m: SegmentMeta): string {
  return (
    `first_seq=${m.firstSeq} last_seq=${m.lastSeq} records=${m.records} ` +
    `first=${m.firstTime} last=${m.lastTime} bytes=${m.bytes}`
  );
}

export function segmentName(firstSeq: number, compressed: boolean): string {
  return `${String(firstSeq).padStart(20, "0")}.log${compressed ? ".zst" : ""}`;
}

/** Parses a segment file name; null for anything else (index, temporary files). */
export function parseSegmentName(name: string): { firstSeq: number; compressed: boolean } | null {
  const m = NAME_RE.exec(name);
  if (!m) return null;
  const firstSeq = Number(m[1]);
  if (!Number.isSafeInteger(firstSeq) || firstSeq < 1) return null;
  return { firstSeq, compressed: m[2] !== undefined };
}

interface IndexFile {
  format: number;
  segments: SegmentMeta[];
}

/**
 * Reads a stream's index. A missing index is empty; a damaged one is reported as null so that
 * the caller rebuilds it from the segment files; a newer format is refused.
 */
export async function readIndex(dir: string): Promise<SegmentMeta[] | null> {
  let text: string;
  try {
    text = await readFile(join(dir, INDEX_FILE), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  let parsed: IndexFile;
  try {
    parsed = JSON.parse(text) as IndexFile;
  } catch {
    return null;
  }
  if (typeof parsed?.format !== "number" || !Array.isArray(parsed.segments)) return null;
  if (parsed.format > FORMAT_VERSION) {
    throw new LogwardError(
      "LW_STORE_VERSION",
      `The index in ${dir} has format ${parsed.format}, newer than this logward understands (${FORMAT_VERSION}); upgrade logward.`,
    );
  }
  for (const s of parsed.segments) {
    if (!s || typeof s.file !== "string" || !parseSegmentName(s.file) || !Number.isSafeInteger(s.lastSeq))
      return null;
  }
  return parsed.segments;
}

export async function writeIndex(dir: string, segments: readonly SegmentMeta[]): Promise<void> {
  const body: IndexFile = { format: FORMAT_VERSION, segments: [...segments] };
  await writeFileAtomic(join(dir, INDEX_FILE), `${JSON.stringify(body)}\n`);
}
