// Reading a store without its writer: list streams and segments, and hand out blocks of whole
// record lines for a time window. Readers take no lock. They cope with a writer that appends
// (bytes after the last LF are ignored), seals (a segment listed as active may be sealed by
// the time it is read) and compresses (N.log may be gone, read N.log.zst instead).
//
// Time windows: since <= time < until. Receive times are fixed-width RFC 3339 strings, so they
// compare as bytes. Sealed segments outside the window are skipped by their index entry; in a
// plain segment the first line is found by binary search (seek.ts); in a compressed one only
// the frames from the one holding `since` are decompressed.

import type { Dirent } from "node:fs";
import { join } from "node:path";
import { type ZstdOptions, zstdDecompress, zstdDecompressSync } from "node:zlib";
import { ioError, LogwardError } from "../errors.ts";
import { reportDamaged } from "./damage.ts";
import {
  firstLine,
  lastLineBounds,
  openIfPresent,
  openToRead,
  readFileNoFollow,
  readRange,
} from "./files.ts";
import { INDEX_FILE, ORIGINS_DIR, originsDir, parseSegmentName, segmentName, segmentPath } from "./layout.ts";
import { checkStoreDir, isStoredOrigin, isValidName, streamDir, trustedOwner } from "./names.ts";
import { listDir, type ReadHandle, settle, statNoFollow } from "./read-handle.ts";
import { LF, parseLine, seqAt, TIME_LEN } from "./record.ts";
import { describeSegment } from "./scan.ts";
import { lineAtTime, seekLine, seekTime } from "./seek.ts";
import { readIndex, type SegmentMeta } from "./segment.ts";
import { decompressFrames } from "./zstd-frames.ts";

function decompressAsync(data: Buffer, opts: ZstdOptions = {}): Promise<Buffer> {
  return settle((done) => zstdDecompress(data, opts, done));
}
/** Largest output chunk asked of zlib: a frame's whole raw size, so that it comes back as one buffer. */
const MAX_FRAME_CHUNK = 64 * 1024 * 1024;
/** zlib refuses output chunks under 64 bytes. */
const MIN_CHUNK = 64;

/**
 * One zstd frame. When the raw size is known (the index has it), zlib is asked for it as one
 * output chunk: with its default 16 KiB chunks a 1 MiB frame costs 64 callbacks and a concat on
 * the main thread, which profiled at half of a search's time.
 */
function decompressFrame(data: Buffer, rawSize: number | undefined): Promise<Buffer> {
  const opts =
    rawSize === undefined || !(rawSize > 0)
      ? {}
      : { chunkSize: Math.max(MIN_CHUNK, Math.min(rawSize + 1, MAX_FRAME_CHUNK)) };
  if (!inline) return decompressAsync(data, opts);
  try {
    return Promise.resolve(zstdDecompressSync(data, opts));
  } catch (err) {
    return Promise.reject(err);
  }
}

let inline = false;
/**
 * Decompress frames on the calling thread: for a worker thread that reads and scans (the
 * search's scan workers), which nothing waits on. zlib's asynchronous path costs 1.5-2x the
 * CPU of the synchronous one for the same frames (measured: 77-99 ms against 43-53 ms for a
 * 34 MB segment of 1 MiB frames), and on a busy machine that CPU is the search's time.
 */
export function decompressInline(on: boolean): void {
  inline = on;
}

/** Counters of what readers fetched from disk: tests and benchmarks check that windows seek. */
export const readStats = { bytesRead: 0, framesDecompressed: 0, segmentsOpened: 0 };
const READ_CHUNK = 1024 * 1024;

/** A segment as readers see it: the index entry, or figures read from an unindexed file. */
export type SegmentView = Omit<SegmentMeta, "lastRef"> & {
  lastRef?: string | null;
  /** True for the segment the writer appends to (its figures are read from its first and last lines). */
  active: boolean;
};

export interface StreamRef {
  origin: string;
  stream: string;
}

/**
 * Entries of the store named as an origin, stream or segment that are symbolic links (or not
 * plain directories and files): left out, never followed. The CLI names them in one warning.
 */
const unfollowed = new Set<string>();

export function unfollowedEntries(): readonly string[] {
  return [...unfollowed];
}

function noteUnfollowed(path: string): void {
  if (unfollowed.size < 100) unfollowed.add(path);
}

async function dirNames(dir: string, root: string): Promise<string[]> {
  try {
    const entries = await listDir(dir);
    for (const e of entries) if (e.isSymbolicLink()) noteUnfollowed(join(dir, e.name));
    // another user's directory (not root's, not the store owner's) is left out like a link
    const owner = (await statNoFollow(root)).uid;
    const names: string[] = [];
    for (const d of entries.filter((e) => e.isDirectory())) {
      if (trustedOwner((await statNoFollow(join(dir, d.name))).uid, owner)) names.push(d.name);
      else noteUnfollowed(join(dir, d.name));
    }
    return names;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw ioError("list", dir, err);
  }
}

/** The stream's index; a link planted as index.json is noted and passed over (the segments are scanned). */
async function readIndexUnlinked(dir: string): ReturnType<typeof readIndex> {
  try {
    return await readIndex(dir);
  } catch (err) {
    if (!(err instanceof LogwardError && err.code === "LW_UNSAFE_PATH")) throw err;
    noteUnfollowed(join(dir, INDEX_FILE));
    return null;
  }
}

/** Every origin directory of the store, sorted, whether or not it has streams yet. */
export async function listOrigins(root: string): Promise<string[]> {
  checkStoreDir(root, originsDir(root), ORIGINS_DIR); // a link there is refused, not listed through
  return (await dirNames(originsDir(root), root)).filter(isStoredOrigin).sort();
}

/** The stream directories of one origin, sorted; none when the origin does not exist. */
export async function originStreams(root: string, origin: string): Promise<StreamRef[]> {
  return (await dirNames(streamDir(root, origin), root))
    .filter(isValidName)
    .sort()
    .map((stream) => ({ origin, stream }));
}

/** Every origin/stream directory of the store, sorted; directories with invalid names are ignored. */
export async function listStreams(root: string): Promise<StreamRef[]> {
  const out: StreamRef[] = [];
  for (const origin of await listOrigins(root)) out.push(...(await originStreams(root, origin)));
  return out;
}

/**
 * The segments of a stream in sequence order, sealed ones from the index, the active one read.
 * With `until`, an unindexed plain segment after a sealed one that ends at or after `until` is
 * left out without being opened: times never decrease, so none of its records is before `until`.
 */
export async function streamSegments(
  root: string,
  origin: string,
  stream: string,
  until?: string,
): Promise<SegmentView[]> {
  const dir = streamDir(root, origin, stream);
  let entries: Dirent[];
  try {
    entries = await listDir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw ioError("list", dir, err);
  }
  const files = new Map<number, { plain: boolean; zst: boolean }>();
  for (const e of entries) {
    const name = e.name;
    const p = parseSegmentName(name);
    if (!p) continue;
    if (!e.isFile()) {
      noteUnfollowed(join(dir, name)); // a planted link with a segment's name is never read through
      continue;
    }
    const f = files.get(p.firstSeq) ?? { plain: false, zst: false };
    if (p.compressed) f.zst = true;
    else f.plain = true;
    files.set(p.firstSeq, f);
  }
  const index = new Map(((await readIndexUnlinked(dir))?.segments ?? []).map((m) => [m.firstSeq, m]));
  const seqs = [...files.keys()].sort((a, b) => a - b);
  const out: SegmentView[] = [];
  for (let k = 0; k < seqs.length; k++) {
    const firstSeq = seqs[k]!;
    const f = files.get(firstSeq)!;
    const meta = index.get(firstSeq);
    if (meta && ((meta.compressed && f.zst) || (!meta.compressed && f.plain))) {
      out.push({ ...meta, active: false });
      continue;
    }
    if (until !== undefined && out.length > 0 && out.at(-1)!.lastTime >= until) break;
    if (f.plain) {
      const view = await describeActive(segmentPath(dir, firstSeq, false), firstSeq);
      if (view) out.push({ ...view, active: k === seqs.length - 1 && !meta });
      continue;
    }
    const described = await describeSegment(
      dir,
      segmentName(firstSeq, true),
      firstSeq,
      true,
      seqs[k + 1],
    ).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return null; // evicted since it was listed
      throw err;
    });
    if (described) out.push({ ...described, active: false });
  }
  return out;
}

/** Figures of a plain segment from its first and last complete lines. */
async function describeActive(path: string, firstSeq: number): Promise<SegmentView | null> {
  const fh = await openIfPresent(path);
  if (fh === null) return null; // compressed meanwhile
  try {
    const { size } = await fh.stat();
    const head = await firstLine(fh, 8 * 1024 * 1024);
    const bounds = await lastLineBounds(fh, size);
    if (!head || !bounds) return null;
    const first = parseLine(head, 0, head.length);
    const lastBuf = await readRange(fh, bounds.start, bounds.end);
    const last = parseLine(lastBuf, 0, lastBuf.length);
    if (!first || !last) return null;
    return {
      file: segmentName(firstSeq, false),
      firstSeq,
      lastSeq: last.seq,
      firstTime: first.time,
      lastTime: last.time,
      records: last.seq - firstSeq + 1,
      bytes: size,
      rawBytes: size,
      compressed: false,
      active: true,
    };
  } finally {
    await fh.close();
  }
}

export interface Window {
  /** Inclusive lower bound, as a 27-byte receive time. */
  since?: string | undefined;
  /** Exclusive upper bound. */
  until?: string | undefined;
}

function overlaps(seg: SegmentView, w: Window): boolean {
  if (w.since !== undefined && seg.lastTime < w.since) return false;
  if (w.until !== undefined && seg.firstTime >= w.until) return false;
  return true;
}

/**
 * Blocks of complete lines (each block ends with LF) of one stream within the window, in
 * sequence order. The blocks are views the caller must not keep across iterations.
 */
export async function* readStreamLines(
  root: string,
  origin: string,
  stream: string,
  w: Window = {},
): AsyncGenerator<Buffer> {
  const dir = streamDir(root, origin, stream);
  for (const seg of await streamSegments(root, origin, stream, w.until)) {
    if (!overlaps(seg, w)) continue;
    yield* readSegmentLines(dir, seg, w);
  }
}

/** The blocks of one segment, cut to the window (the dir is the stream's directory). */
export async function* readSegmentLines(dir: string, seg: SegmentView, w: Window): AsyncGenerator<Buffer> {
  readStats.segmentsOpened++;
  let since = w.since !== undefined ? Buffer.from(w.since, "latin1") : null;
  const until = w.until !== undefined ? Buffer.from(w.until, "latin1") : null;
  const blocks = seg.compressed ? compressedBlocks(dir, seg, w) : plainBlocks(dir, seg, w);
  for await (const block of blocks) {
    let start = 0;
    if (since) {
      start = lineAtTime(block, 0, since);
      // once a line at or after since is found, every later one is too
      if (start < block.length) since = null;
    }
    const end = until && start < block.length ? lineAtTime(block, start, until) : block.length;
    if (end > start) yield block.subarray(start, end);
    if (end < block.length) return;
  }
}

/** Whole-line blocks of a plain segment, starting near `since` (binary search on line starts). */
async function* plainBlocks(dir: string, seg: SegmentView, w: Window): AsyncGenerator<Buffer> {
  const path = join(dir, seg.file);
  const fh = await openIfPresent(path);
  if (fh === null) {
    // compressed since it was listed: read the compressed file instead
    const zst = { ...seg, file: segmentName(seg.firstSeq, true), compressed: true, frames: undefined };
    yield* compressedBlocks(dir, zst, w);
    return;
  }
  try {
    const { size } = await fh.stat();
    let pos = w.since !== undefined ? await seekTime(fh, size, w.since) : 0;
    let carry: Buffer | null = null;
    // start small (a narrow window needs little) and double up to READ_CHUNK for long reads
    let want = 64 * 1024;
    const chunk = Buffer.allocUnsafe(READ_CHUNK);
    while (pos < size) {
      const { bytesRead } = await fh.read(chunk, 0, Math.min(want, size - pos), pos);
      want = Math.min(want * 2, READ_CHUNK);
      if (bytesRead === 0) break;
      pos += bytesRead;
      readStats.bytesRead += bytesRead;
      const data: Buffer = carry
        ? Buffer.concat([carry, chunk.subarray(0, bytesRead)])
        : chunk.subarray(0, bytesRead);
      const lastLf = data.lastIndexOf(LF);
      if (lastLf === -1) {
        carry = Buffer.from(data);
        continue;
      }
      carry = lastLf + 1 < data.length ? Buffer.from(data.subarray(lastLf + 1)) : null;
      yield data.subarray(0, lastLf + 1);
    }
  } finally {
    await fh.close();
  }
}

/**
 * A receive time at or before the record `seq` of the stream, to use as `since` when reading
 * from a sequence number: the frame's first time in a compressed segment, else the time of a
 * line found by binary search on sequence numbers in the plain segment (so the newest page of a
 * large active segment reads only its end). `segs` is the stream's listing the caller has.
 */
export async function seekTimeForSeq(
  root: string,
  ref: StreamRef,
  segs: readonly SegmentView[],
  seq: number,
): Promise<string | undefined> {
  const seg = segs.findLast((s) => s.firstSeq <= seq);
  if (!seg) return undefined;
  if (seg.compressed) return seg.frames?.findLast((f) => f.firstSeq <= seq)?.firstTime ?? seg.firstTime;
  let fh: ReadHandle;
  try {
    fh = await openToRead(join(streamDir(root, ref.origin, ref.stream), seg.file));
  } catch {
    return seg.firstTime; // compressed meanwhile: reading from the segment's start is still right
  }
  try {
    const { size } = await fh.stat();
    const at = await seekLine(fh, size, (probe, ls) => seqAt(probe, ls) < seq);
    const head = Buffer.alloc(TIME_LEN);
    const { bytesRead } = await fh.read(head, 0, TIME_LEN, at);
    return bytesRead === TIME_LEN ? head.toString("latin1") : seg.firstTime;
  } finally {
    await fh.close();
  }
}

/** Whole-line blocks of a compressed segment, one zstd frame at a time from the frame holding `since`. */
async function* compressedBlocks(dir: string, seg: SegmentView, w: Window): AsyncGenerator<Buffer> {
  const path = join(dir, seg.file);
  const frames = seg.frames;
  if (!frames || frames.length === 0) {
    let data: Buffer;
    try {
      data = await readFileNoFollow(path);
    } catch (err) {
      throw err instanceof LogwardError ? err : ioError("read", path, err);
    }
    readStats.bytesRead += data.length;
    readStats.framesDecompressed++;
    // no frame list (an unindexed segment, or compressed since it was listed): every frame, in turn
    const { text, error } = await decompressFrames(data);
    const end = text.lastIndexOf(LF) + 1;
    if (end > 0) yield text.subarray(0, end);
    if (error !== null) {
      // the frames before the damage were read; the rest of the segment is the damaged range
      const lastStart = end > 0 ? text.lastIndexOf(LF, end - 2) + 1 : 0;
      const lastRead = end > 0 ? parseLine(text, lastStart, end - 1) : null;
      reportDamaged(
        dir,
        seg.file,
        {
          firstSeq: lastRead ? lastRead.seq + 1 : seg.firstSeq,
          lastSeq: seg.lastSeq,
          firstTime: lastRead?.time ?? seg.firstTime,
          lastTime: seg.lastTime,
        },
        error,
      );
    }
    return;
  }
  let k = 0;
  if (w.since !== undefined) {
    // the last frame that starts before since may hold its first lines
    while (k + 1 < frames.length && frames[k + 1]!.firstTime < w.since) k++;
  }
  const fh = await openToRead(path).catch((err) => {
    throw err instanceof LogwardError ? err : ioError("open", path, err);
  });
  try {
    const { size } = await fh.stat();
    // the next frame is read and decompressed (on libuv's pool) while the caller scans this one
    const fetch = async (i: number): Promise<Buffer> => {
      const f = frames[i]!;
      const next = frames[i + 1];
      const data = await readRange(fh, f.offset, next ? next.offset : size);
      readStats.bytesRead += data.length;
      readStats.framesDecompressed++;
      const rawEnd = next ? next.rawOffset : seg.rawBytes;
      return decompressFrame(data, rawEnd !== undefined ? rawEnd - f.rawOffset : undefined);
    };
    const wanted = (i: number) =>
      i < frames.length && (w.until === undefined || frames[i]!.firstTime < w.until);
    let pending = wanted(k) ? fetch(k) : null;
    while (pending) {
      const current = pending;
      const at = k;
      k++;
      pending = wanted(k) ? fetch(k) : null;
      // a failed prefetch is reported when its turn comes, not as an unhandled rejection
      pending?.catch(() => {});
      let text: Buffer;
      try {
        text = await current;
      } catch (err) {
        // a damaged frame (or one the disk cannot read) costs its own records only
        const next = frames[at + 1];
        reportDamaged(
          dir,
          seg.file,
          {
            firstSeq: frames[at]!.firstSeq,
            lastSeq: next ? next.firstSeq - 1 : seg.lastSeq,
            firstTime: frames[at]!.firstTime,
            lastTime: next ? next.firstTime : seg.lastTime,
          },
          err,
        );
        continue;
      }
      yield text;
    }
  } finally {
    await fh.close();
  }
}
