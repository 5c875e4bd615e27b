// The store: the one writer of <root>. Owns the writer lock, the stream writers, the group
// commit and the background compressor.
//
// Group commit: an append only fills its stream's pending buffer and marks the stream dirty.
// One commit loop runs at a time: it takes every dirty stream, writes and fdatasyncs them in
// parallel (libuv's thread pool), publishes their durable sequence numbers, and goes round
// again while anything became dirty meanwhile. The slower the disk, the larger each batch,
// so an fsync is shared by everything that arrived while the previous one ran.
//
// Failure policy: a write that fails for lack of space (ENOSPC, EDQUOT) keeps its data and
// is retried with backoff; nothing acknowledged is touched. Any other I/O failure (EIO, an
// fsync error) is fatal: after a failed fsync the page cache can no longer be trusted, so the
// store stops accepting writes, rejects every waiter and emits "fatal"; the process should
// exit and recover from what is really on disk.
//
// File descriptors: a stream holds one (its active segment) only while it is written. At most
// maxOpenStreams are open; after each commit the least recently written idle streams beyond that
// are closed (everything of theirs is durable; the next write opens the file again). Running out
// of descriptors anyway (EMFILE, ENFILE: sockets count too) is not fatal: the write is retried
// like a full disk, and the store lowers its own cap to three quarters of what was open. The
// cap rises again by a quarter after each minute without EMFILE (back to maxOpenStreams): a
// burst of sockets that once took the descriptors must not slow the collector for its life.
//
// One module of about 420 lines on purpose: the commit loop, the failure policy, the
// descriptor cap and close() all read and change the same few fields (dirty, commitRunning,
// retryTimer, state, the writers), and their order (close waits for the loop, a failure stops
// it, a trim runs between its batches) is the durable hot path's correctness; spread over
// modules it would need those fields passed around. What could stand alone already does: the
// lock (lock.ts), recovery (recover.ts), compression (compress.ts), the stream writer.

import { EventEmitter } from "node:events";
import { mkdir, rm, rmdir, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { ioError, LogwardError } from "../errors.ts";
import { Compressor } from "./compress.ts";
import { exists, fsyncDir } from "./files.ts";
import { checkStoreFormat } from "./format.ts";
import { ORIGINS_DIR, originsDir, RUN_DIR, runDir } from "./layout.ts";
import { acquireStoreLock, type StoreLock } from "./lock.ts";
import { COLLECTOR_ORIGIN, checkStoreDir, streamDir } from "./names.ts";
import { StreamObjects } from "./objects.ts";
import { resolveStoreOptions, type StoreOptions } from "./options.ts";
import { recoverStream } from "./recover.ts";
import type { SegmentMeta } from "./segment.ts";
import { type StreamHost, StreamWriter } from "./stream-writer.ts";

/** Creates `dir` and any missing parents, fsyncing each parent whose entries changed. */
async function mkdirDurable(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    try {
      await stat(d);
      break;
    } catch {
      missing.push(d);
      if (dirname(d) === d) break;
    }
  }
  for (const d of missing.reverse()) {
    await mkdir(d, { recursive: true, mode: 0o750 });
    await fsyncDir(dirname(d));
  }
}

/**
 * The operating system's error code of `err`, looking through LW_IO wrappers (`ioError` keeps
 * the original as `cause`): a full disk while index.json is written is still a full disk.
 */
export function errnoCode(err: unknown): string | undefined {
  for (let e = err as NodeJS.ErrnoException | undefined, depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === "string" && !e.code.startsWith("LW_")) return e.code;
    e = e.cause as NodeJS.ErrnoException | undefined;
  }
  return undefined;
}

/**
 * A clock with microseconds that follows the wall clock: the monotonic clock gives the
 * microseconds, and it is re-anchored whenever it leaves the wall clock's current millisecond.
 */
export function wallClockUs(): () => number {
  let offset = Date.now() * 1000 - Math.floor(performance.now() * 1000);
  return () => {
    const mono = Math.floor(performance.now() * 1000);
    const wallMs = Date.now() * 1000;
    let us = offset + mono;
    if (us < wallMs || us >= wallMs + 1000) {
      offset = wallMs - mono;
      us = wallMs;
    }
    return us;
  };
}

/** How often the store frees the buffers of streams not written since the last sweep. */
export const IDLE_SWEEP_MS = 5000;

/** A lowered descriptor cap rises after this long without EMFILE (one step a minute). */
export const CAP_RISE_AFTER_US = 60_000_000;

export interface StoreOpenOptions extends Partial<StoreOptions> {
  /** Replaces the clock (tests: a clock that steps back). */
  clock?: () => number;
}

export class Store extends EventEmitter implements StreamHost {
  readonly root: string;
  readonly options: StoreOptions;
  readonly nowUs: () => number;
  private readonly lock: StoreLock;
  private readonly writers = new Map<string, Promise<StreamWriter>>();
  /** Streams per origin (opened or opening), for the collector's per-origin stream limit. */
  private readonly streamCounts = new Map<string, number>();
  /** Writers whose active segment file is open, least recently written first. */
  private readonly openFiles = new Set<StreamWriter>();
  /** Lowered when the process ran out of descriptors: what it could hold, with a margin. */
  private openCap = Number.POSITIVE_INFINITY;
  /** When (nowUs) the cap was last lowered or raised: it rises after CAP_RISE_AFTER_US of calm. */
  private openCapChangedUs = 0;
  private readonly dirty = new Set<StreamWriter>();
  /** Unwritten bytes of all writers: appended and not yet durable (totalHighWaterBytes). */
  private pendingBytes = 0;
  /** Writers with callers in whenDrained(), woken after each commit. */
  private readonly drainWaiting = new Set<StreamWriter>();
  /**
   * Writers that may hold buffers, with the sweep generation in which they were last written:
   * the idle sweep frees the buffers of those not written for a whole sweep interval.
   */
  private readonly buffered = new Map<StreamWriter, number>();
  private sweepGeneration = 0;
  private readonly sweepTimer: NodeJS.Timeout;
  private commitRunning: Promise<void> | null = null;
  private commitScheduled = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelayMs = 0;
  private readonly ageTimer: NodeJS.Timeout;
  private readonly compressor: Compressor;
  private state: "open" | "closing" | "closed" | "failed" = "open";
  private failure: LogwardError | null = null;

  private constructor(root: string, options: StoreOptions, lock: StoreLock, clock: () => number) {
    super();
    this.root = root;
    this.options = options;
    this.lock = lock;
    this.nowUs = clock;
    this.compressor = new Compressor(options.compressLevel, options.frameBytes, (err) =>
      this.emit("warning", err),
    );
    // one coarse timer for all streams' age-based rotation
    const every = Math.min(60_000, Math.max(1000, Math.floor(options.maxSegmentAgeMs / 4)));
    this.ageTimer = setInterval(() => void this.sealAged(), every);
    this.ageTimer.unref();
    this.sweepTimer = setInterval(() => this.releaseIdleBuffers(), IDLE_SWEEP_MS);
    this.sweepTimer.unref();
  }

  /** Opens (creating if needed) the store at `root` and takes its writer lock. */
  static async open(root: string, given: StoreOpenOptions = {}): Promise<Store> {
    const { clock, ...rest } = given;
    const options = resolveStoreOptions(rest);
    const abs = resolve(root);
    try {
      await mkdirDurable(abs);
      await mkdirDurable(runDir(abs));
      await mkdirDurable(originsDir(abs));
      // logward writes in both: a link planted as either would lead every write out of the store
      checkStoreDir(abs, runDir(abs), RUN_DIR);
      checkStoreDir(abs, originsDir(abs), ORIGINS_DIR);
    } catch (err) {
      throw err instanceof LogwardError ? err : ioError("create the store", abs, err);
    }
    const lock = acquireStoreLock(runDir(abs), abs);
    try {
      await checkStoreFormat(abs, true);
    } catch (err) {
      lock.release();
      throw err;
    }
    return new Store(abs, options, lock, clock ?? wallClockUs());
  }

  /** The writer of one stream, recovered from disk on first use. */
  stream(origin: string, stream: string): Promise<StreamWriter> {
    const dir = streamDir(this.root, origin, stream); // validates both names
    this.checkWritable();
    const key = `${origin}/${stream}`;
    let w = this.writers.get(key);
    if (!w) {
      this.countStream(origin, 1); // first: openWriter checks the limit with this one counted
      w = this.openWriter(origin, stream, dir);
      this.writers.set(key, w);
      w.catch(() => {
        if (this.writers.get(key) === w) {
          this.writers.delete(key);
          this.countStream(origin, -1);
        }
      });
    }
    return w;
  }

  private countStream(origin: string, delta: number): void {
    const n = (this.streamCounts.get(origin) ?? 0) + delta;
    if (n > 0) this.streamCounts.set(origin, n);
    else this.streamCounts.delete(origin);
  }

  /** How many streams of `origin` the store has open or opening (every one on disk, for the collector). */
  streamsOf(origin: string): number {
    return this.streamCounts.get(origin) ?? 0;
  }

  /** True if the stream is open or opening (it exists, or is being created). */
  hasStream(origin: string, stream: string): boolean {
    return this.writers.has(`${origin}/${stream}`);
  }

  /** Active segment files open now (tests, metrics). */
  get openFileCount(): number {
    return this.openFiles.size;
  }

  private async openWriter(origin: string, stream: string, dir: string): Promise<StreamWriter> {
    try {
      return await this.openWriterFiles(origin, stream, dir);
    } catch (err) {
      const code = errnoCode(err);
      if (code !== "EMFILE" && code !== "ENFILE") throw err;
      this.lowerOpenCap();
      throw new LogwardError(
        "LW_IO",
        `The collector has too many files open to open the stream ${origin}/${stream} now (${code}); try again later.`,
        { cause: err },
      );
    }
  }

  private async openWriterFiles(origin: string, stream: string, dir: string): Promise<StreamWriter> {
    // this stream is counted already: over the limit, only a stream that exists may open
    const limit = this.options.maxStreamsPerOrigin;
    if (origin !== COLLECTOR_ORIGIN && this.streamsOf(origin) > limit && !(await exists(dir))) {
      this.emit("stream-limit", { origin, stream, limit });
      throw new LogwardError(
        "LW_STREAM_LIMIT",
        `The origin ${origin} already has ${limit} streams, its limit ([collector] max_streams_per_origin); the new stream ${stream} is refused.`,
      );
    }
    await mkdirDurable(dir);
    const recovered = await recoverStream(dir);
    const writer = new StreamWriter(this, origin, stream, dir, recovered);
    await writer.init();
    writer.objects = await StreamObjects.open(this.root, origin, stream, dir);
    if (recovered.truncatedBytes > 0)
      this.emit("recovered", { origin, stream, truncatedBytes: recovered.truncatedBytes });
    for (const meta of recovered.uncompressed) this.enqueueCompression(writer, meta);
    return writer;
  }

  // ---- StreamHost ----

  checkWritable(): void {
    if (this.state === "open") return;
    if (this.failure) throw this.failure;
    throw new LogwardError(
      "LW_STORE_CLOSED",
      `The store ${this.root} is closed; no more records can be written.`,
    );
  }

  markDirty(writer: StreamWriter): void {
    this.dirty.add(writer);
    this.buffered.set(writer, this.sweepGeneration);
    if (this.openFiles.delete(writer)) this.openFiles.add(writer); // most recently written last
    if (!this.commitRunning && !this.commitScheduled && !this.retryTimer) {
      this.commitScheduled = true;
      setImmediate(() => {
        this.commitScheduled = false;
        this.startCommit();
      });
    }
  }

  notePending(delta: number): void {
    this.pendingBytes += delta;
  }

  overTotalHighWater(): boolean {
    return this.pendingBytes >= this.options.totalHighWaterBytes;
  }

  waitDrain(writer: StreamWriter): void {
    this.drainWaiting.add(writer);
  }

  /** Unwritten bytes of all streams (tests, metrics). */
  get unwrittenBytes(): number {
    return this.pendingBytes;
  }

  /**
   * After a commit: a writer held back only by the total (its own bytes are under its mark)
   * may go on once the total is under the mark again; its own commit does not wake it.
   */
  private wakeDrained(): void {
    for (const w of this.drainWaiting) if (w.wakeIfDrained()) this.drainWaiting.delete(w);
  }

  /** Frees the buffers of the streams not written since the sweep before this one. */
  releaseIdleBuffers(): void {
    for (const [w, generation] of this.buffered) {
      if (generation !== this.sweepGeneration && w.releaseBuffers()) this.buffered.delete(w);
    }
    this.sweepGeneration++;
  }

  segmentSealed(writer: StreamWriter): void {
    this.emit("segment-sealed", writer);
  }

  /** Every stream writer opened so far (those still opening are left out): the sealer's list. */
  async openWriters(): Promise<StreamWriter[]> {
    const all = await Promise.all([...this.writers.values()].map((p) => p.catch(() => null)));
    return all.filter((w): w is StreamWriter => w !== null);
  }

  enqueueCompression(writer: StreamWriter, meta: SegmentMeta): void {
    if (this.options.compress && this.state === "open") this.compressor.enqueue(writer, meta);
  }

  fileOpened(writer: StreamWriter): void {
    this.openFiles.delete(writer);
    this.openFiles.add(writer);
  }

  fileClosed(writer: StreamWriter): void {
    this.openFiles.delete(writer);
  }

  /** Out of descriptors: hold at most three quarters of the files open now from here on. */
  private lowerOpenCap(): void {
    this.openCap = Math.min(this.openCap, Math.max(1, Math.floor(this.openFiles.size * 0.75)));
    this.openCapChangedUs = this.nowUs();
  }

  /**
   * A lowered cap rises by a quarter (at least one) after each CAP_RISE_AFTER_US without running
   * out of descriptors, and is lifted once it reaches maxOpenStreams; a new EMFILE lowers it
   * again. Checked between commits, where the cap is used.
   */
  private raiseOpenCap(): void {
    if (this.openCap === Number.POSITIVE_INFINITY) return;
    const now = this.nowUs();
    if (now - this.openCapChangedUs < CAP_RISE_AFTER_US) return;
    this.openCapChangedUs = now;
    const next = this.openCap + Math.max(1, Math.ceil(this.openCap / 4));
    this.openCap = next >= this.options.maxOpenStreams ? Number.POSITIVE_INFINITY : next;
  }

  /** The descriptor cap in force: maxOpenStreams, or lower after EMFILE (tests, metrics). */
  get openFileCap(): number {
    return Math.min(this.options.maxOpenStreams, this.openCap);
  }

  /** Closes the least recently written idle streams' files beyond the cap. Only between flushes. */
  private async trimOpen(): Promise<void> {
    this.raiseOpenCap();
    const cap = Math.min(this.options.maxOpenStreams, this.openCap);
    let excess = this.openFiles.size - cap;
    if (excess <= 0) return;
    const closing: Promise<boolean>[] = [];
    for (const w of [...this.openFiles]) {
      if (excess <= 0) break;
      if (this.dirty.has(w) || !w.idle) continue;
      closing.push(w.closeIdle());
      excess--;
    }
    await Promise.all(closing);
  }

  writeFailed(writer: StreamWriter, err: unknown): void {
    const code = errnoCode(err);
    const outOfFiles = code === "EMFILE" || code === "ENFILE";
    if (outOfFiles) this.lowerOpenCap();
    if (code === "ENOSPC" || code === "EDQUOT" || outOfFiles) {
      this.dirty.add(writer);
      this.retryDelayMs = Math.min(30_000, Math.max(250, this.retryDelayMs * 2));
      this.emit("warning", ioError("write to", writer.dir, err));
      if (!this.retryTimer) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.startCommit();
        }, this.retryDelayMs);
        this.retryTimer.unref(); // a daemon stays up through its sockets; a stuck script may end
      }
      return;
    }
    this.fail(err instanceof LogwardError ? err : ioError("write to", writer.dir, err));
  }

  // ---- group commit ----

  private startCommit(): void {
    if (this.commitRunning || this.dirty.size === 0 || this.state === "failed") return;
    this.commitRunning = this.commitLoop().finally(() => {
      this.commitRunning = null;
      if (this.dirty.size > 0 && !this.retryTimer) this.startCommit();
    });
  }

  private async commitLoop(): Promise<void> {
    while (this.dirty.size > 0 && this.state !== "failed" && !this.retryTimer) {
      const batch = [...this.dirty];
      this.dirty.clear();
      // at most as many streams at once as may have a file open, closing idle ones in between
      const step = Math.max(1, Math.min(this.options.maxOpenStreams, this.openCap));
      for (let i = 0; i < batch.length; i += step) {
        const slice = batch.slice(i, i + step);
        await Promise.all(slice.map((w) => w.flush()));
        // outputs send only durable records (src/output/durable-gate.ts)
        if (this.listenerCount("durable") > 0) for (const w of slice) this.emit("durable", w);
        this.wakeDrained();
        await this.trimOpen();
      }
      if (!this.retryTimer) this.retryDelayMs = 0;
    }
  }

  /** Resolves when everything appended before the call is durable. */
  async flush(): Promise<void> {
    const all = await Promise.all(this.writers.values());
    await Promise.all(all.map((w) => w.waitDurable()));
  }

  /** Resolves when no segment is waiting to be compressed (the quota waits for it). */
  compressionIdle(): Promise<void> {
    return this.compressor.idle();
  }

  /** Resolves when nothing is waiting to be written or compressed (tests and benchmarks). */
  async idle(): Promise<void> {
    for (;;) {
      await this.flush();
      if (this.commitScheduled) await new Promise((r) => setImmediate(r));
      if (this.commitRunning) await this.commitRunning;
      await this.compressor.idle();
      if (!this.commitRunning && !this.commitScheduled && this.dirty.size === 0) return;
    }
  }

  private async sealAged(): Promise<void> {
    const now = this.nowUs();
    for (const p of this.writers.values()) {
      const w = await p.catch(() => null);
      const first = w?.activeFirstTimeUs();
      if (w && first != null && now - first > this.options.maxSegmentAgeMs * 1000) void w.requestSeal();
    }
  }

  private fail(err: LogwardError): void {
    if (this.state === "failed") return;
    this.state = "failed";
    this.failure = err;
    for (const p of this.writers.values())
      void p.then(
        (w) => w.failWaiters(err),
        () => {},
      );
    this.emit("fatal", err);
  }

  /**
   * Deletes a whole stream: waits for what it has pending to be written, closes its files,
   * removes its directory (and the origin's, once empty), fsyncs the parents. The caller makes
   * sure nothing appends to it any more. Returns what it held.
   */
  async removeStream(origin: string, stream: string): Promise<{ records: number; bytes: number }> {
    const dir = streamDir(this.root, origin, stream);
    const key = `${origin}/${stream}`;
    const w = await this.stream(origin, stream);
    await w.waitDurable();
    await this.compressor.idle();
    const records = w.nextSeq - w.firstSeq;
    const bytes = w.diskBytes();
    await w.closeFiles();
    this.writers.delete(key);
    this.countStream(origin, -1);
    this.dirty.delete(w);
    await rm(dir, { recursive: true, force: true });
    const originDir = dirname(dir);
    try {
      await rmdir(originDir); // only if no stream is left
      await fsyncDir(dirname(originDir));
    } catch {
      await fsyncDir(originDir);
    }
    return { records, bytes };
  }

  /** Writes and fsyncs everything appended, stops compression, closes files, releases the lock. */
  async close(): Promise<void> {
    if (this.state === "closed") return;
    const failed = this.state === "failed";
    if (!failed) this.state = "closing";
    clearInterval(this.ageTimer);
    clearInterval(this.sweepTimer);
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    await this.compressor.stop();
    const writers = await Promise.all([...this.writers.values()].map((p) => p.catch(() => null)));
    if (!failed) {
      while (this.commitRunning || this.dirty.size > 0) {
        if (!this.commitRunning) this.startCommit();
        if (this.retryTimer) break; // out of space: what is not written stays unacknowledged
        await this.commitRunning;
      }
    }
    for (const w of writers) await w?.closeFiles();
    if (!failed) this.state = "closed";
    this.lock.release();
  }
}
