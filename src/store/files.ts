// Small file helpers shared by the writer, recovery, compression and the readers (opening a
// segment that may have been compressed or evicted since it was listed).
// Durable means fsync'd: a new or renamed file is only durable once its directory is too.

import { closeSync, constants, openSync, readFileSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { ioError } from "../errors.ts";
import { unsafePath } from "./names.ts";
import { openForReading, type Readable, type ReadHandle } from "./read-handle.ts";
import { LF } from "./record.ts";

/**
 * node:fs/promises, loaded when a writer first needs it: a reader (`show`, `ls`) never does,
 * and loading it costs a start 2 ms (src/store/read-handle.ts).
 */
function fsp(): typeof import("node:fs/promises") {
  return process.getBuiltinModule("node:fs/promises");
}

/**
 * Open flags for a file of the store: O_NOFOLLOW, so a symbolic link planted where a segment,
 * an index, a state file or an object belongs fails the open itself (ELOOP) instead of being
 * followed out of the store, with no window between a check and the open.
 */
export const READ_NOFOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW;
export const RW_NOFOLLOW = constants.O_RDWR | constants.O_NOFOLLOW;

/** ELOOP from an O_NOFOLLOW open: the store entry at `path` is a link (LW_UNSAFE_PATH); else `err`. */
export function linkRefusal(err: unknown, path: string): unknown {
  return (err as NodeJS.ErrnoException).code === "ELOOP" ? unsafePath(storeName(path), path) : err;
}

/** How a message names a store entry: from its origin (`vm/main/index.json`), or `run/…`. */
function storeName(path: string): string {
  const m = /\/(?:origins\/(.+)|(run\/.+))$/.exec(path);
  return m ? (m[1] ?? m[2]!) : basename(path);
}

/** `path` opened with `flags` and O_NOFOLLOW; a link there is LW_UNSAFE_PATH, other errors as they are. */
export async function openNoFollow(path: string, flags = READ_NOFOLLOW): Promise<FileHandle> {
  try {
    return await fsp().open(path, flags | constants.O_NOFOLLOW);
  } catch (err) {
    throw linkRefusal(err, path);
  }
}

/** `path` opened for reading with O_NOFOLLOW, as the readers use it (no node:fs/promises). */
export async function openToRead(path: string): Promise<ReadHandle> {
  try {
    return await openForReading(path, READ_NOFOLLOW);
  } catch (err) {
    throw linkRefusal(err, path);
  }
}

/** The whole file at `path`, never through a link (readFile that refuses one with LW_UNSAFE_PATH). */
export async function readFileNoFollow(path: string): Promise<Buffer>;
export async function readFileNoFollow(path: string, encoding: BufferEncoding): Promise<string>;
export async function readFileNoFollow(path: string, encoding?: BufferEncoding): Promise<Buffer | string> {
  const fh = await openToRead(path);
  try {
    const bytes = await fh.readAll();
    return encoding ? bytes.toString(encoding) : bytes;
  } finally {
    await fh.close();
  }
}

/** readFileNoFollow for the synchronous readers of small state files (`ls`'s policy.json). */
export function readFileSyncNoFollow(path: string, encoding: BufferEncoding): string {
  let fd: number;
  try {
    fd = openSync(path, READ_NOFOLLOW);
  } catch (err) {
    throw linkRefusal(err, path);
  }
  try {
    return readFileSync(fd, encoding);
  } finally {
    closeSync(fd);
  }
}

/** ENOSPC or EDQUOT, also as the cause of an LW_IO error (writeFileAtomic wraps what it meets). */
export function isOutOfSpace(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === "ENOSPC" || e.code === "EDQUOT") return true;
  }
  return false;
}

/** True if `path` exists (asynchronous: no sync fs call on the collector's event loop). */
export async function exists(path: string): Promise<boolean> {
  return fsp()
    .access(path)
    .then(
      () => true,
      () => false,
    );
}

/**
 * `path` opened for reading, or null when it does not exist (a segment compressed or evicted
 * since it was listed: the caller decides); any other failure is an LW_IO error.
 */
export async function openIfPresent(path: string): Promise<ReadHandle | null> {
  try {
    return await openForReading(path, READ_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    const refused = linkRefusal(err, path);
    throw refused === err ? ioError("open", path, err) : refused;
  }
}

/**
 * fsyncs a directory so that entries created, renamed or removed in it survive a crash.
 * Asynchronous: a directory fsync can take milliseconds, and the collector's sessions must not
 * stall behind it.
 */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await fsp().open(dir, "r");
    await fh.sync();
  } catch (err) {
    throw ioError("sync the directory", dir, err);
  } finally {
    await fh?.close();
  }
}

/**
 * Replaces `path` atomically with `data`: write a temporary file, fsync, rename, fsync the
 * directory. The temporary file is created anew (`wx` after removing a leftover), so a link
 * planted at `<path>.tmp` is never followed; `mode` is 0640, or 0600 for secrets.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o640): Promise<void> {
  const tmp = `${path}.tmp`;
  try {
    await fsp()
      .unlink(tmp)
      .catch(() => {});
    const fh = await fsp().open(tmp, "wx", mode);
    try {
      await fh.writeFile(data);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await fsp().rename(tmp, path);
  } catch (err) {
    await fsp()
      .unlink(tmp)
      .catch(() => {});
    throw ioError("write", path, err);
  }
  await fsyncDir(dirname(path));
}

/** Writes all of `buf[off, off+len)` at `position`, looping over short writes. */
export async function pwriteAll(
  fh: FileHandle,
  buf: Uint8Array,
  off: number,
  len: number,
  position: number,
): Promise<void> {
  while (len > 0) {
    const { bytesWritten } = await fh.write(buf, off, len, position);
    off += bytesWritten;
    len -= bytesWritten;
    position += bytesWritten;
  }
}

/**
 * Reads backwards from `size` and returns the byte offsets [start, end) of the last complete
 * line (end excludes the LF), or null if the file holds no LF. `ignoreAfterLastLf` bytes after
 * the last LF (a line still being written, or torn) are not part of any line.
 */
export async function lastLineBounds(
  fh: Readable,
  size: number,
  chunk = 64 * 1024,
): Promise<{ start: number; end: number } | null> {
  let end = -1;
  let pos = size;
  const buf = Buffer.allocUnsafe(chunk);
  while (pos > 0) {
    const from = Math.max(0, pos - chunk);
    const { bytesRead } = await fh.read(buf, 0, pos - from, from);
    let i = bytesRead - 1;
    if (end === -1) {
      const lf = buf.lastIndexOf(LF, i);
      if (lf !== -1) {
        end = from + lf;
        i = lf - 1;
      } else {
        pos = from;
        continue;
      }
    }
    const prev = i >= 0 ? buf.lastIndexOf(LF, i) : -1;
    if (prev !== -1) return { start: from + prev + 1, end };
    pos = from;
  }
  return end === -1 ? null : { start: 0, end };
}

export async function readRange(fh: Readable, start: number, end: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(end - start);
  let off = 0;
  while (off < buf.length) {
    const { bytesRead } = await fh.read(buf, off, buf.length - off, start + off);
    if (bytesRead === 0) break;
    off += bytesRead;
  }
  return buf.subarray(0, off);
}

/** Reads the first complete line [0, end) of a file, reading at most `limit` bytes. */
export async function firstLine(fh: Readable, limit: number): Promise<Buffer | null> {
  let size = 4096;
  for (;;) {
    const buf = await readRange(fh, 0, size);
    const lf = buf.indexOf(LF);
    if (lf !== -1) return buf.subarray(0, lf);
    if (buf.length < size || size >= limit) return null;
    size = Math.min(size * 8, limit);
  }
}
