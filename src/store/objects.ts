// Opaque objects (`logward ingest --format blob`): one call's bytes kept whole, compressed and
// content-addressed inside the stream's directory (docs/FORMAT.md, "Objects"):
//
//   origins/<origin>/<stream>/objects/<sha256 hex>.zst     one zstd frame (zstdcat gives the bytes)
//   origins/<origin>/<stream>/objects/<random>.tmp          an object being received
//
// The stream's `!blob` record announces an object; the record is the truth. An object is
// received into a temporary file through the compressor while it is hashed; at the end the file
// is fsync'd, renamed to its SHA-256 and the directory fsync'd, and only then is the `!blob`
// record appended and waited for. A crash between the rename and the record's durability leaves
// a file no record names: opening the stream again removes it (nothing was acknowledged), so a
// re-send stores it once. One `!blob` per (stream, SHA-256) while the object is stored: a second
// call with the same bytes stores nothing and is told the first one's seq.
//
// Receiving (hashing and compressing into the temporary file) is object-receiver.ts.
//
// Memory: one entry per stored object (about 150 bytes); quotas count each object at least one
// 4 KiB block, so a 1 GiB quota holds at most 262,144 of them.

import { randomBytes } from "node:crypto";
import { lstat, mkdir, readdir, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { ioError } from "../errors.ts";
import { type BlobType, isBlobType } from "./blob-type.ts";
import { fsyncDir } from "./files.ts";
import { OBJECTS_DIR, objectPath, objectsDir, SHA256_RE } from "./layout.ts";
import { checkStoreDir } from "./names.ts";
import { ObjectReceiver, type ReceivedObject } from "./object-receiver.ts";
import { readStreamLines } from "./read.ts";
import { LF, type ParsedLine, parseLine } from "./record.ts";

/** Quotas count an object as its compressed size rounded up to this (a filesystem block). */
export const OBJECT_BLOCK = 4096;

export interface ObjectInfo {
  sha256: string;
  /** The `!blob` record's sequence number. */
  seq: number;
  /** Its receive time. */
  time: string;
  size: number;
  type: BlobType;
  /** Compressed bytes on disk. */
  stored: number;
}

export function accountedBytes(stored: number): number {
  return Math.max(1, Math.ceil(stored / OBJECT_BLOCK)) * OBJECT_BLOCK;
}

/** The `!blob` payload for an object. */
export function blobPayload(o: Omit<ObjectInfo, "seq" | "time">, session: string): string {
  return `sha256=${o.sha256} size=${o.size} type=${o.type} stored=${o.stored} session=${session}`;
}

/** A removed object as its `!evict` record (and a deletion's) names it: the same keys everywhere. */
export function objectFields(o: ObjectInfo): string {
  return `objects=1 seq=${o.seq} sha256=${o.sha256} size=${o.size} type=${o.type} time=${o.time} bytes=${o.stored}`;
}

/** Parses a `!blob` payload (as stored: it is plain ASCII); null if it is not one. */
export function parseBlobPayload(
  text: string,
): { sha256: string; size: number; type: BlobType; stored: number } | null {
  const f: Record<string, string> = {};
  for (const part of text.split(" ")) {
    const eq = part.indexOf("=");
    if (eq > 0) f[part.slice(0, eq)] = part.slice(eq + 1);
  }
  const size = Number(f.size);
  const stored = Number(f.stored);
  if (!f.sha256 || !SHA256_RE.test(f.sha256) || !f.type || !isBlobType(f.type)) return null;
  if (!Number.isSafeInteger(size) || size < 0 || !Number.isSafeInteger(stored) || stored < 0) return null;
  return { sha256: f.sha256, size, type: f.type, stored };
}

export const BLOB_MARK = Buffer.from(" !blob ");
const EVICT_MARK = Buffer.from(" !evict ");
const EVICTED_SHA_RE = / sha256=([0-9a-f]{64})(?: |$)/;

/**
 * The parsed lines of a block that hold one of `marks` (e.g. " !blob "), in line order. Only
 * those lines are parsed: a plain indexOf per mark finds them, so a stream of sender records
 * costs one scan of its bytes.
 */
export function* markedLines(block: Buffer, marks: readonly Buffer[]): Generator<ParsedLine> {
  const at = marks.map((m) => block.indexOf(m));
  for (;;) {
    let next = -1;
    for (const a of at) if (a !== -1 && (next === -1 || a < next)) next = a;
    if (next === -1) return;
    const ls = block.lastIndexOf(LF, next) + 1;
    let le = block.indexOf(LF, next);
    if (le === -1) le = block.length;
    const p = parseLine(block, ls, le);
    if (p) yield p;
    for (let i = 0; i < at.length; i++) if (at[i] !== -1 && at[i]! < le) at[i] = block.indexOf(marks[i]!, le);
  }
}

/**
 * Every object a stream's records announce and do not say were evicted, in seq order: each
 * `!blob` record, minus `!evict … sha256=<hex>` records. Reads the whole stream, but parses only
 * the lines holding one of the two markers, in line order: an object evicted and sent again is
 * live again.
 */
export async function announcedObjects(
  root: string,
  origin: string,
  stream: string,
): Promise<Map<string, ObjectInfo>> {
  const live = new Map<string, ObjectInfo>();
  for await (const block of readStreamLines(root, origin, stream)) {
    for (const p of markedLines(block, [BLOB_MARK, EVICT_MARK])) {
      const text = block.toString("latin1", p.payloadStart, p.payloadEnd);
      if (p.kind === "!blob") {
        const b = parseBlobPayload(text);
        if (b && !live.has(b.sha256)) live.set(b.sha256, { ...b, seq: p.seq, time: p.time });
      } else if (p.kind === "!evict") {
        const m = EVICTED_SHA_RE.exec(` ${text}`);
        if (m) live.delete(m[1]!);
      }
    }
  }
  return live;
}

/** What the writer of a stream needs to announce an object. */
export interface ObjectAnnouncer {
  appendCollector(kind: "blob", text: string): number;
  waitDurable(seq?: number): Promise<void>;
  /** The receive time of the record just appended. */
  lastTime(): string;
}

/** The objects of one stream, for its writer: receiving, deduplicating, counting, evicting. */
export class StreamObjects {
  readonly dir: string;
  private readonly streamDirectory: string;
  private readonly live: Map<string, ObjectInfo>;
  private storedBytes = 0;
  /** Compressed bytes of objects being received (they count in the quota as they grow). */
  receivingBytes = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private dirReady = false;

  /** Refuses `objects/` when it is a link or another user's (names.ts); true when it exists. */
  private readonly checkDir: () => boolean;

  private constructor(
    streamDirectory: string,
    live: Map<string, ObjectInfo>,
    dirReady: boolean,
    checkDir: () => boolean,
  ) {
    this.streamDirectory = streamDirectory;
    this.checkDir = checkDir;
    this.dir = objectsDir(streamDirectory);
    this.live = live;
    this.dirReady = dirReady;
    for (const o of live.values()) this.storedBytes += accountedBytes(o.stored);
  }

  /**
   * Recovers a stream's objects when its writer opens: temporary files are removed, and so is
   * any object file no `!blob` record names (its call was never acknowledged). An object whose
   * record survives but whose file is gone (removed by hand) is forgotten.
   */
  static async open(root: string, origin: string, stream: string, dir: string): Promise<StreamObjects> {
    const objDir = objectsDir(dir);
    // a link planted as objects/ would have recovery list and remove files outside the store
    const checkDir = () => checkStoreDir(root, objDir, `${origin}/${stream}/${OBJECTS_DIR}`);
    checkDir();
    let names: string[];
    try {
      names = await readdir(objDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT")
        return new StreamObjects(dir, new Map(), false, checkDir);
      throw ioError("list", objDir, err);
    }
    let changed = false;
    const files = new Map<string, number>();
    for (const name of names) {
      const path = join(objDir, name);
      if (name.endsWith(".tmp")) {
        await unlink(path);
        changed = true;
      } else if (name.endsWith(".zst") && SHA256_RE.test(name.slice(0, -4))) {
        // lstat: a link with an object's name is not counted as one (readers refuse to follow it)
        const st = await lstat(path);
        if (st.isFile()) files.set(name.slice(0, -4), st.size);
      }
    }
    const live =
      files.size > 0 ? await announcedObjects(root, origin, stream) : new Map<string, ObjectInfo>();
    for (const sha of files.keys()) {
      if (!live.has(sha)) {
        await unlink(objectPath(dir, sha));
        changed = true;
      }
    }
    for (const [sha, o] of live) {
      const size = files.get(sha);
      if (size === undefined) live.delete(sha);
      else o.stored = size;
    }
    if (changed) await fsyncDir(objDir);
    return new StreamObjects(dir, live, true, checkDir);
  }

  /** Bytes the quota counts: stored objects (each at least a block) and those being received. */
  get bytes(): number {
    return this.storedBytes + this.receivingBytes;
  }

  get count(): number {
    return this.live.size;
  }

  get(sha256: string): ObjectInfo | undefined {
    return this.live.get(sha256);
  }

  /** Every stored object, in seq order. */
  list(): ObjectInfo[] {
    return [...this.live.values()];
  }

  /** The object announced first among those still stored. */
  oldest(): ObjectInfo | undefined {
    return this.live.values().next().value;
  }

  /**
   * Starts receiving an object into a temporary file (created as the first bytes are written);
   * `onFailure` hears of a write error (disk full) at once, so the sender is not read further.
   */
  receive(onFailure: (err: Error) => void): ObjectReceiver {
    return new ObjectReceiver(this, join(this.dir, `${randomBytes(8).toString("hex")}.tmp`), onFailure);
  }

  /** Creates `objects/` (durably) the first time. */
  async prepare(): Promise<void> {
    this.checkDir(); // at every object: a link swapped in later must not receive it either
    if (this.dirReady) return;
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o750 });
    } catch (err) {
      throw ioError("create", this.dir, err);
    }
    await fsyncDir(this.streamDirectory);
    this.dirReady = true;
  }

  /**
   * Makes a received object durable and announces it, one at a time per stream: a duplicate
   * of a stored object is removed and its first record's seq returned; else the file is renamed
   * to its SHA-256, the directory fsync'd, the `!blob` record appended and waited for.
   */
  commit(
    r: ReceivedObject,
    writer: ObjectAnnouncer,
    session: string,
  ): Promise<{ info: ObjectInfo; duplicate: boolean }> {
    const run = this.chain.then(async () => {
      this.receivingBytes -= r.stored;
      const existing = this.live.get(r.sha256);
      if (existing) {
        await unlink(r.tmp).catch(() => {});
        return { info: existing, duplicate: true };
      }
      const final = objectPath(this.streamDirectory, r.sha256);
      try {
        await rename(r.tmp, final);
        await fsyncDir(this.dir);
        // fault injection for the crash tests only (test/blob-crash.test.ts): die between the
        // rename and the record, the window recovery must close
        if (process.env.LOGWARD_FAULT === "after-object-rename") process.kill(process.pid, "SIGKILL");
      } catch (err) {
        await unlink(r.tmp).catch(() => {});
        throw ioError("store the object", final, err);
      }
      let seq: number;
      try {
        seq = writer.appendCollector("blob", blobPayload(r, session));
      } catch (err) {
        await unlink(final).catch(() => {});
        throw err;
      }
      const info: ObjectInfo = {
        sha256: r.sha256,
        seq,
        time: writer.lastTime(),
        size: r.size,
        type: r.type,
        stored: r.stored,
      };
      this.live.set(r.sha256, info);
      this.storedBytes += accountedBytes(r.stored);
      await writer.waitDurable(seq);
      return { info, duplicate: false };
    });
    this.chain = run.catch(() => {});
    return run;
  }

  /** Removes the oldest stored object (quota, retention); the caller records `!evict`. */
  removeOldest(): Promise<ObjectInfo | null> {
    const run = this.chain.then(async () => {
      const o = this.oldest();
      if (!o) return null;
      this.live.delete(o.sha256);
      this.storedBytes -= accountedBytes(o.stored);
      await unlink(objectPath(this.streamDirectory, o.sha256)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "ENOENT") throw err;
      });
      await fsyncDir(this.dir);
      return o;
    });
    this.chain = run.catch(() => {});
    return run;
  }
}
