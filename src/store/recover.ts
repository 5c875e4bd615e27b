// Opening a stream after any stop, clean or kill -9: reconcile the segment files with the
// index, cut a torn or partial tail off the active segment, and rebuild the writer's state
// (next sequence, last receive time) from what is on disk.
//
// Rules (docs/FORMAT.md, "Recovery"):
// - *.tmp files are unfinished atomic writes or compressions: removed.
// - N.log next to N.log.zst: the compression did not finish; the plain file wins.
// - The highest-numbered plain segment that the index does not list is the active one.
// - The active segment ends at its last valid line. Lines are checked from the end; if the
//   count of lines does not match the sequence numbers, the whole file is checked forward
//   and cut at the first line that breaks the chain.

import { open, readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { ioError } from "../errors.ts";
import { fsyncDir, lastLineBounds, readRange } from "./files.ts";
import { LF, type ParsedLine, parseLine, parseTime } from "./record.ts";
import { describeSegment } from "./scan.ts";
import { parseSegmentName, readIndex, type SegmentMeta, segmentName, writeIndex } from "./segment.ts";

export interface ActiveSegment {
  path: string;
  firstSeq: number;
  firstTime: string;
  size: number;
  lastSeq: number;
  lastTime: string;
}

export interface RecoveredStream {
  sealed: SegmentMeta[];
  active: ActiveSegment | null;
  nextSeq: number;
  lastTimeUs: number;
  /** Sealed segments still waiting for compression. */
  uncompressed: SegmentMeta[];
  /** Bytes cut off the active segment's tail (0 after a clean stop). */
  truncatedBytes: number;
}

export async function recoverStream(dir: string): Promise<RecoveredStream> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw ioError("list", dir, err);
  }
  let changed = false;
  const plain = new Set<number>();
  const zst = new Set<number>();
  for (const name of names) {
    if (name.endsWith(".tmp")) {
      await unlink(join(dir, name));
      changed = true;
      continue;
    }
    const seg = parseSegmentName(name);
    if (seg) (seg.compressed ? zst : plain).add(seg.firstSeq);
  }
  for (const seq of zst) {
    if (plain.has(seq)) {
      await unlink(join(dir, segmentName(seq, true)));
      zst.delete(seq);
      changed = true;
    }
  }
  if (changed) fsyncDir(dir);

  const index = (await readIndex(dir)) ?? [];
  const indexed = new Map(index.map((m) => [m.firstSeq, m]));
  const seqs = [...new Set([...plain, ...zst])].sort((a, b) => a - b);
  const sealed: SegmentMeta[] = [];
  let active: ActiveSegment | null = null;
  let truncatedBytes = 0;
  let indexStale = index.length !== 0 && index.some((m) => !plain.has(m.firstSeq) && !zst.has(m.firstSeq));

  for (let k = 0; k < seqs.length; k++) {
    const firstSeq = seqs[k]!;
    const compressed = zst.has(firstSeq);
    const file = segmentName(firstSeq, compressed);
    const meta = indexed.get(firstSeq);
    if (k === seqs.length - 1 && !compressed && meta === undefined) {
      const r = await recoverActive(join(dir, file), firstSeq);
      truncatedBytes = r.truncatedBytes;
      active = r.active;
      continue;
    }
    if (meta && meta.file === file) {
      sealed.push(meta);
    } else if (meta && !compressed) {
      // the index says compressed, but only the plain file is left: same records, plain bytes
      sealed.push({ ...meta, file, compressed: false, bytes: meta.rawBytes, frames: undefined });
      indexStale = true;
    } else {
      sealed.push(await describeSegment(dir, file, firstSeq, compressed));
      indexStale = true;
    }
  }
  if (indexStale) await writeIndex(dir, sealed);

  const last = sealed.at(-1);
  let nextSeq = 1;
  let lastTime: string | null = null;
  if (active) {
    nextSeq = active.lastSeq + 1;
    lastTime = active.lastTime;
  } else if (last) {
    nextSeq = last.lastSeq + 1;
    lastTime = last.lastTime;
  }
  return {
    sealed,
    active,
    nextSeq,
    lastTimeUs: lastTime ? parseTime(lastTime) : 0,
    uncompressed: sealed.filter((m) => !m.compressed),
    truncatedBytes,
  };
}

/** Cuts the active segment back to its last valid line; deletes it if none is left. */
async function recoverActive(
  path: string,
  firstSeq: number,
): Promise<{ active: ActiveSegment | null; truncatedBytes: number }> {
  const fh = await open(path, "r+");
  try {
    const { size } = await fh.stat();
    let end = size;
    let last: ParsedLine | null = null;
    let lastBounds: { start: number; end: number } | null = null;
    // from the end: skip a partial line and any trailing lines that do not parse
    for (;;) {
      const b = await lastLineBounds(fh, end);
      if (!b) {
        end = 0;
        break;
      }
      const line = await readRange(fh, b.start, b.end);
      const parsed = parseLine(line, 0, line.length);
      if (parsed && parsed.seq >= firstSeq) {
        last = parsed;
        lastBounds = b;
        end = b.end + 1;
        break;
      }
      end = b.start;
    }
    let first: ParsedLine | null = null;
    if (last && lastBounds) {
      const lines = await countLines(fh, end);
      const head = await readRange(fh, 0, Math.min(end, 4 * 1024 * 1024 + 1024));
      const headEnd = head.indexOf(LF);
      first = headEnd === -1 ? null : parseLine(head, 0, headEnd);
      if (!first || first.seq !== firstSeq || last.seq !== firstSeq + lines - 1) {
        const checked = await validateForward(fh, end, firstSeq);
        end = checked.end;
        last = checked.last;
        first = checked.first;
      }
    }
    const truncatedBytes = size - end;
    if (truncatedBytes > 0) {
      await fh.truncate(end);
      await fh.datasync();
    }
    if (!last || !first || end === 0) {
      await fh.close();
      await unlink(path);
      return { active: null, truncatedBytes };
    }
    return {
      active: {
        path,
        firstSeq,
        firstTime: first.time,
        size: end,
        lastSeq: last.seq,
        lastTime: last.time,
      },
      truncatedBytes,
    };
  } finally {
    await fh.close().catch(() => {});
  }
}

async function countLines(fh: import("node:fs/promises").FileHandle, end: number): Promise<number> {
  const chunk = Buffer.allocUnsafe(1024 * 1024);
  let n = 0;
  for (let pos = 0; pos < end; ) {
    const { bytesRead } = await fh.read(chunk, 0, Math.min(chunk.length, end - pos), pos);
    if (bytesRead === 0) break;
    for (let i = chunk.indexOf(LF, 0); i !== -1 && i < bytesRead; i = chunk.indexOf(LF, i + 1)) n++;
    pos += bytesRead;
  }
  return n;
}

/**
 * Reads the segment from the start and stops at the first line that does not parse, does not
 * continue the sequence, or goes back in time. Returns the offset just after the last good line.
 */
async function validateForward(
  fh: import("node:fs/promises").FileHandle,
  limit: number,
  firstSeq: number,
): Promise<{ end: number; first: ParsedLine | null; last: ParsedLine | null }> {
  let first: ParsedLine | null = null;
  let last: ParsedLine | null = null;
  let good = 0;
  let pos = 0;
  let carry = Buffer.alloc(0);
  const chunk = Buffer.allocUnsafe(1024 * 1024);
  outer: while (pos < limit) {
    const { bytesRead } = await fh.read(chunk, 0, Math.min(chunk.length, limit - pos), pos);
    if (bytesRead === 0) break;
    const buf = carry.length
      ? Buffer.concat([carry, chunk.subarray(0, bytesRead)])
      : chunk.subarray(0, bytesRead);
    const bufStart = pos - carry.length;
    pos += bytesRead;
    let s = 0;
    for (let lf = buf.indexOf(LF); lf !== -1; lf = buf.indexOf(LF, s)) {
      const p = parseLine(buf, s, lf);
      const expected = last ? last.seq + 1 : firstSeq;
      if (!p || p.seq !== expected || (last && p.time < last.time)) break outer;
      if (!first) first = { ...p };
      last = { ...p };
      good = bufStart + lf + 1;
      s = lf + 1;
    }
    carry = Buffer.from(buf.subarray(s));
  }
  return { end: good, first, last };
}
