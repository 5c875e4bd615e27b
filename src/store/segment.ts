// Segment files and the per-stream segment index (docs/FORMAT.md, "Segments", "Index").
//
// A stream directory holds:
//   00000000000000000001.log        the active segment (plain text, appended to)
//   00000000000000000001.log.zst    a sealed, compressed segment (independent zstd frames)
//   index.json                      metadata of sealed segments, rewritten atomically
// The segment files are the truth; index.json is a cache that recovery checks and rebuilds.
// The name of a segment is the sequence number of its first record, zero-padded to 20 digits
// so that names sort in sequence order (segmentName in layout.ts).

import { LogwardError } from "../errors.ts";
import { readFileNoFollow, writeFileAtomic } from "./files.ts";
import { indexPath, parseSegmentName } from "./layout.ts";
import { FORMAT_VERSION } from "./record.ts";

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

interface IndexFile {
  format: number;
  segments: SegmentMeta[];
  /** The stream's latest declared type (the format of its newest `!open`); absent if none yet. */
  type?: string;
}

/** What index.json says about a stream. */
export interface StreamIndex {
  segments: SegmentMeta[];
  /** Null when no session declared one since the index learned types (older stores). */
  type: string | null;
}

/** A stream type as `!open` declares it (`format=lines`): lower-case letters. */
export function isStreamType(type: unknown): type is string {
  return typeof type === "string" && /^[a-z]{1,32}$/.test(type);
}

/**
 * Reads a stream's index. A missing index is empty; a damaged one is reported as null so that
 * the caller rebuilds it from the segment files; a newer format is refused. A type that is not
 * one is ignored (readers then find it by scanning the stream).
 */
export async function readIndex(dir: string): Promise<StreamIndex | null> {
  let text: string;
  try {
    text = await readFileNoFollow(indexPath(dir), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { segments: [], type: null };
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
  return { segments: parsed.segments, type: isStreamType(parsed.type) ? parsed.type : null };
}

/** Rewrites a stream's index atomically; `type` null leaves the field out. */
export async function writeIndex(
  dir: string,
  segments: readonly SegmentMeta[],
  type: string | null,
): Promise<void> {
  const body: IndexFile = { format: FORMAT_VERSION, segments: [...segments] };
  if (type !== null) body.type = type;
  await writeFileAtomic(indexPath(dir), `${JSON.stringify(body)}\n`);
}
