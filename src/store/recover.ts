// Opening a stream after any stop, clean or kill -9: reconcile the segment files with the
// index, cut a torn or partial tail off the active segment, and rebuild the writer's state
// (next sequence, last receive time) from what is on disk.
//
// Rules (docs/FORMAT.md, "Recovery"):
// - *.tmp files are unfinished atomic writes or compressions: removed.
// - N.log next to N.log.zst: the compression did not finish; the plain file wins.
// - The highest-numbered plain segment that the index does not list is the active one.
// - The active segment ends at its last valid line (see recoverActive).

import { constants, type Dirent } from "node:fs";
import { type FileHandle, open, readdir, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { ioError } from "../errors.ts";
import { isDisplaySafe } from "./escape.ts";
import { fsyncDir } from "./files.ts";
import { parseSegmentName, segmentName, segmentPath } from "./layout.ts";
import { foreignOwner, trustedOwner, unsafePath } from "./names.ts";
import { checkLineHead, LF, parseTime, TIME_LEN } from "./record.ts";
import { describeSegment } from "./scan.ts";
import { readIndex, type SegmentMeta, writeIndex } from "./segment.ts";

/** Longer than any line the writer can produce (64 MiB records, escaped four times over). */
const MAX_LINE_BYTES = 4 * 64 * 1024 * 1024 + 4096;

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
  /** The stream's latest declared type as index.json keeps it, or null. */
  type: string | null;
}

export async function recoverStream(dir: string): Promise<RecoveredStream> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw ioError("list", dir, err);
  }
  let changed = false;
  const plain = new Set<number>();
  const zst = new Set<number>();
  for (const e of entries) {
    const name = e.name;
    if (name.endsWith(".tmp")) {
      await unlink(join(dir, name));
      changed = true;
      continue;
    }
    const seg = parseSegmentName(name);
    // a planted link (or directory) with a segment's name: never opened for writing
    if (seg && !e.isFile())
      throw unsafePath(`${basename(dirname(dir))}/${basename(dir)}/${name}`, join(dir, name));
    if (seg) (seg.compressed ? zst : plain).add(seg.firstSeq);
  }
  for (const seq of zst) {
    if (plain.has(seq)) {
      await unlink(segmentPath(dir, seq, true));
      zst.delete(seq);
      changed = true;
    }
  }
  if (changed) await fsyncDir(dir);

  const stored = await readIndex(dir);
  const index = stored?.segments ?? [];
  const type = stored?.type ?? null;
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
      sealed.push(await describeSegment(dir, file, firstSeq, compressed, seqs[k + 1]));
      indexStale = true;
    }
  }
  if (indexStale) await writeIndex(dir, sealed, type);

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
    type,
  };
}

/**
 * Cuts the active segment back to its last valid line; deletes it if none is left. Every line
 * is checked from the start: layout, display-safe payload, the sequence chain (+1 each line,
 * the first equal to the file name) and receive times that never go back. A crash can leave
 * unsynced pages as zeros or stale bytes anywhere after the last fsync, not only at the very
 * end, so the first line that breaks any rule ends the segment.
 */
async function recoverActive(
  path: string,
  firstSeq: number,
): Promise<{ active: ActiveSegment | null; truncatedBytes: number }> {
  const fh = await open(path, constants.O_RDWR | constants.O_NOFOLLOW);
  try {
    const { size, uid } = await fh.stat();
    // the segment the writer appends to: another user's file is not written (nor cut)
    const owner = (await stat(dirname(path))).uid;
    if (!trustedOwner(uid, owner) && uid !== process.geteuid?.())
      throw foreignOwner(
        `${basename(dirname(dirname(path)))}/${basename(dirname(path))}/${basename(path)}`,
        path,
        uid,
      );
    const checked = await validateForward(fh, size, firstSeq);
    const end = checked.end;
    const truncatedBytes = size - end;
    if (truncatedBytes > 0) {
      await fh.truncate(end);
      await fh.datasync();
    }
    if (checked.last === null || checked.firstTime === null) {
      await fh.close();
      await unlink(path);
      return { active: null, truncatedBytes };
    }
    return {
      active: {
        path,
        firstSeq,
        firstTime: checked.firstTime,
        size: end,
        lastSeq: checked.last,
        lastTime: checked.lastTime!,
      },
      truncatedBytes,
    };
  } finally {
    await fh.close().catch(() => {});
  }
}

async function validateForward(
  fh: FileHandle,
  limit: number,
  firstSeq: number,
): Promise<{ end: number; firstTime: string | null; last: number | null; lastTime: string | null }> {
  let firstTime: string | null = null;
  let last: number | null = null;
  let lastTime: Buffer | null = null;
  let good = 0;
  let pos = 0;
  let carry: Buffer = Buffer.alloc(0);
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
      const head = checkLineHead(buf, s, lf);
      const expected: number = last === null ? firstSeq : last + 1;
      if (!head || head.seq !== expected || !isDisplaySafe(buf, head.payloadStart, lf)) break outer;
      if (lastTime && buf.compare(lastTime, 0, TIME_LEN, s, s + TIME_LEN) < 0) break outer;
      lastTime = Buffer.from(buf.subarray(s, s + TIME_LEN));
      if (firstTime === null) firstTime = lastTime.toString("latin1");
      last = head.seq;
      good = bufStart + lf + 1;
      s = lf + 1;
    }
    // a line longer than the largest record can be is garbage, not a record still being read
    if (buf.length - s > MAX_LINE_BYTES) break;
    carry = Buffer.from(buf.subarray(s));
  }
  return { end: good, firstTime, last, lastTime: lastTime?.toString("latin1") ?? null };
}
