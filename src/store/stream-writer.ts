// One stream's writer: turns appended payloads into escaped record lines in a pending buffer,
// and, when the store's group commit asks, writes that buffer to the active segment, rotates
// segments, and fsyncs. Appends never wait for the disk; they return the sequence numbers they
// assigned, and `waitDurable` / `durableSeq` say when those are on disk.
//
// Buffer policy (named, like sonic-boom's): the pending buffer has no fixed size, but above
// `highWaterBytes` the writer reports `backlogged` and `whenDrained()` tells the caller when to
// go on reading its sender (backpressure); above `hardLimitBytes` an append is refused with
// LW_BACKLOG_FULL, which only a caller that ignores backpressure can meet. Nothing appended is
// ever dropped by the store.
//
// One module of about 750 lines on purpose: appending (the pending buffer, stamps, sequence
// numbers), flushing (the active segment, rotation, fsync, the durable sequence) and sealing
// (the sealed list, index.json, the declared type) share one stream's state and its
// invariants: the buffer is cut at line ends, `unwritten` and `sealingBytes` keep diskBytes()
// whole while a flush or a seal is in flight, a failed write puts its bytes back ahead of newer
// appends. Split, each part would reach into the others' fields. The parts without that state
// live elsewhere: the line format (record.ts, escape.ts), scanning a segment (scan.ts), the
// index file (segment.ts), paths (layout.ts), compression (compress.ts).

import type { FileHandle } from "node:fs/promises";
import { open, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { LogwardError } from "../errors.ts";
import { asBuffer, ESCAPE_EXPANSION, escapeInto } from "./escape.ts";
import { fsyncDir, isOutOfSpace, openNoFollow, pwriteAll, RW_NOFOLLOW, readRange } from "./files.ts";
import { segmentName, segmentPath } from "./layout.ts";
import { createLineEncoder, type LineEncoder, STOP_DONE, STOP_FULL } from "./line-kernel.ts";
import { dirsIdentity, unsafePath } from "./names.ts";
import type { StreamObjects } from "./objects.ts";
import type { StoreOptions } from "./options.ts";
import {
  COLLECTOR_KINDS,
  type CollectorKind,
  formatTime,
  isValidRef,
  LF,
  parseTime,
  seqAt,
  TIME_LEN,
  timeAt,
  writeDecimal,
} from "./record.ts";
import type { RecoveredStream } from "./recover.ts";
import { releaseBuffer } from "./release.ts";
import { lastRefIn } from "./scan.ts";
import { resumeChain, type SealChain } from "./seal-chain.ts";
import { type EpochKey, GENESIS, sealMac, sealPayload } from "./seal-format.ts";
import { isStreamType, type SegmentMeta, writeIndex } from "./segment.ts";

/** What a stream writer needs from its store (kept small so the writer can be tested alone). */
export interface StreamHost {
  readonly options: StoreOptions;
  /** Microseconds since the epoch, from the collector's clock. */
  nowUs(): number;
  /** Throws if the store no longer accepts writes. */
  checkWritable(): void;
  markDirty(writer: StreamWriter): void;
  /** Unwritten bytes of this writer went up (appends) or down (durable, or an append undone). */
  notePending(delta: number): void;
  /** True while all streams together hold more than `totalHighWaterBytes` unwritten. */
  overTotalHighWater(): boolean;
  /** The writer has callers waiting for whenDrained(): the host wakes it after its commits. */
  waitDrain(writer: StreamWriter): void;
  enqueueCompression(writer: StreamWriter, meta: SegmentMeta): void;
  /** A write failed: the writer keeps the data and the host retries later. */
  writeFailed(writer: StreamWriter, err: unknown): void;
  /** A segment was sealed (the collector's sealer seals the stream then). */
  segmentSealed?(writer: StreamWriter): void;
  /** The writer opened its active segment's file / closed it (the store bounds how many are open). */
  fileOpened?(writer: StreamWriter): void;
  fileClosed?(writer: StreamWriter): void;
}

interface Active {
  /** null while the file is closed (an idle stream, or not written since the store opened). */
  fh: FileHandle | null;
  path: string;
  firstSeq: number;
  firstTime: string;
  size: number;
  lastSeq: number;
  lastTime: string;
}

interface Waiter {
  seq: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

// a trickling stream (a record or two a commit) needs no more; a busy one grows in GROW_STEPs
const INITIAL_BUFFER = 16 * 1024;
/** The pending buffer grows in steps of this, to what its records use (see room()). */
const GROW_STEP = 16 * 1024;
/**
 * What a stream takes on disk besides its records, counted in its origin's quota: its directory
 * (a block), the unused tail of its active segment's last block and its index.json (a block).
 * Without it an origin could open thousands of streams of one record each, every one costing
 * 8 KiB of disk while the quota saw a few hundred bytes.
 */
export const STREAM_OVERHEAD_BYTES = 8 * 1024;

/**
 * The process's line kernel, made at the first appendLines: null without WebAssembly SIMD, or
 * with LOGWARD_LINE_KERNEL=0 (to measure the JavaScript path against it); then every line goes
 * through writeDataRecord, with the same bytes stored.
 */
let encoder: LineEncoder | null | undefined;
function lineEncoder(): LineEncoder | null {
  if (encoder === undefined) encoder = process.env.LOGWARD_LINE_KERNEL === "0" ? null : createLineEncoder();
  return encoder;
}

/** Turns the line kernel off or on again for this process (tests: both paths store the same). */
export function useLineKernel(on: boolean): void {
  encoder = on ? createLineEncoder() : null;
}

/** An idle stream holds no buffer: the first append allocates one (INITIAL_BUFFER or more). */
const EMPTY = Buffer.alloc(0);

/** Validates resume references; returns the bytes they add. */
function checkRefs(refs: readonly (string | undefined)[], n: number): number {
  let bytes = 0;
  for (let k = 0; k < n; k++) {
    const r = refs[k];
    if (r === undefined) continue;
    if (!isValidRef(r)) {
      throw new LogwardError(
        "LW_BAD_REF",
        "A resume reference must be 1 to 256 printable ASCII characters without spaces.",
      );
    }
    bytes += r.length + 1;
  }
  return bytes;
}
// time SP seq SP kind SP ... LF, with the longest seq and kind ("!" + 16 letters)
const PREFIX_MAX = TIME_LEN + 1 + 16 + 1 + 17 + 1 + 1;
const DATA_KIND_BYTE = 0x2e; // "."
const SPACE = 0x20;
const AT = 0x40;

export class StreamWriter {
  readonly origin: string;
  readonly stream: string;
  readonly dir: string;
  private readonly host: StreamHost;
  private readonly opts: StoreOptions;

  /** Sequence number the next record will get. */
  nextSeq: number;
  /** Highest sequence number that is fsync'd. */
  durableSeq: number;
  private lastTimeUs: number;
  private timeMs = -1;
  private readonly timeBytes = Buffer.alloc(TIME_LEN);

  private buf: Buffer = EMPTY;
  private len = 0;
  /** Bytes the running flush has taken from the buffer and not yet written to the segment. */
  private unwritten = 0;
  /** Bytes of a segment being sealed: no longer active, not yet in `sealed`. */
  private sealingBytes = 0;
  private spare: Buffer | null = null;
  private sealDue = false;

  private active: Active | null = null;
  private activeRecovered: RecoveredStream["active"];
  readonly sealed: SegmentMeta[];
  private indexQueue: Promise<void> = Promise.resolve();

  private waiters: Waiter[] = [];
  private drainWaiters: (() => void)[] = [];

  /** The stream's opaque objects (`objects/`), set by the store when it opens the stream. */
  objects: StreamObjects | null = null;

  /** The type index.json records (the newest `!open`'s format), and one to record once durable. */
  private declaredType: string | null;
  private typeDue: { type: string; seq: number } | null = null;

  /** The running seal chain while the store seals (seal-chain.ts), else null. */
  private chain: SealChain | null = null;

  private lastRef: string | null = null;
  private refsSeen = false;
  private durableRefValue: string | null | undefined; // undefined: not known yet (found lazily)

  constructor(host: StreamHost, origin: string, stream: string, dir: string, recovered: RecoveredStream) {
    this.host = host;
    this.opts = host.options;
    this.origin = origin;
    this.stream = stream;
    this.dir = dir;
    this.sealed = recovered.sealed;
    this.nextSeq = recovered.nextSeq;
    this.durableSeq = recovered.nextSeq - 1;
    this.lastTimeUs = recovered.lastTimeUs;
    this.activeRecovered = recovered.active;
    this.refsSeen = recovered.sealed.some((m) => m.lastRef !== null);
    this.declaredType = recovered.type;
  }

  /**
   * Takes over the recovered active segment. Its file is opened only when the stream is written
   * (activeHandle): the collector opens every stream at start, and a store may hold more streams
   * than the process may have files open.
   */
  async init(): Promise<void> {
    this.checkDirs(); // notes the directories the writer opened
    const r = this.activeRecovered;
    this.activeRecovered = null;
    if (r) this.active = { fh: null, ...r };
    if (this.opts.seal) {
      const views = this.sealed.map((m) => ({ ...m, active: false }));
      if (r) {
        const size = r.size;
        const file = segmentName(r.firstSeq, false);
        const records = r.lastSeq - r.firstSeq + 1;
        views.push({
          ...r,
          file,
          records,
          bytes: size,
          rawBytes: size,
          compressed: false,
          lastRef: null,
          active: true,
        });
      }
      this.chain = await resumeChain(this.dir, views, this.nextSeq);
    }
  }

  /** The origin and stream directories' identity when the writer opened (dirsIdentity). */
  private dirId: string | null = null;

  /**
   * Refuses to open a file by path in the stream's directory if it, or its origin's, is no
   * longer the directory the writer opened (swapped for a link meanwhile: Node has no openat).
   * Only where a file is created or reopened, not on every write.
   */
  private checkDirs(): void {
    const id = dirsIdentity([dirname(this.dir), this.dir]);
    this.dirId ??= id;
    if (id === null || id !== this.dirId) throw unsafePath(`${this.origin}/${this.stream}`, this.dir);
  }

  /** The active segment's file, opened again if an idle close (or a fresh start) closed it. */
  private async activeHandle(a: Active): Promise<FileHandle> {
    if (a.fh) return a.fh;
    this.checkDirs();
    const fh = await openNoFollow(a.path, RW_NOFOLLOW); // a link swapped in while closed is refused
    a.fh = fh;
    this.host.fileOpened?.(this);
    return fh;
  }

  /**
   * Closes the active segment's file and frees the buffers if the stream has nothing to write:
   * everything appended is durable, so nothing is lost, and the next flush opens it again.
   * Called by the store between commits (never during this writer's flush). True if it closed.
   */
  async closeIdle(): Promise<boolean> {
    const a = this.active;
    if (!a?.fh || !this.idle) return false;
    const fh = a.fh;
    a.fh = null;
    if (this.len === 0) this.dropBuffer();
    this.dropSpare();
    this.host.fileClosed?.(this);
    await fh.close().catch(() => {});
    return true;
  }

  /** Nothing to write, nothing in flight, everything appended durable. */
  get idle(): boolean {
    return !this.hasWork() && this.unwritten === 0 && this.durableSeq === this.nextSeq - 1;
  }

  /** True while the active segment's file is open. */
  get fileOpen(): boolean {
    return !!this.active?.fh;
  }

  // ---- appending (hot path, synchronous) ----

  /** True while more than `highWaterBytes` wait to be written: stop reading the sender. */
  get backlogged(): boolean {
    return this.len >= this.opts.highWaterBytes || (this.len > 0 && this.host.overTotalHighWater());
  }

  /** Wakes the whenDrained() callers if no longer backlogged (the host, after a commit). */
  wakeIfDrained(): boolean {
    if (this.drainWaiters.length > 0 && this.backlogged) return false;
    const d = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of d) resolve();
    return true;
  }

  /** Sets the pending length, telling the host by how much the unwritten bytes changed. */
  private setLen(n: number): void {
    this.host.notePending(n - this.len);
    this.len = n;
  }

  /** Resolves once the backlog is below the high-water mark. */
  whenDrained(): Promise<void> {
    if (!this.backlogged) return Promise.resolve();
    this.host.waitDrain(this);
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /**
   * Appends sender records, all stamped with one receive time. `refs[i]`, if given, is the
   * resume reference of record i. Returns the sequence number of the last record.
   * All-or-nothing: a bad payload or ref throws before anything is written.
   */
  appendRecords(payloads: readonly Uint8Array[], refs?: readonly (string | undefined)[]): number {
    this.host.checkWritable();
    const n = payloads.length;
    if (n === 0) return this.nextSeq - 1;
    for (let k = 0; k < n; k++) this.checkSize(payloads[k]!.length);
    if (refs) checkRefs(refs, n);
    this.checkBacklog();
    const time = this.stamp();
    let pos = this.len;
    for (let k = 0; k < n; k++) {
      const p = asBuffer(payloads[k]!);
      const ref = refs?.[k];
      this.room(pos, p.length * ESCAPE_EXPANSION + PREFIX_MAX + (ref === undefined ? 0 : ref.length + 1));
      pos = this.writeDataRecord(pos, time, p, 0, p.length, ref);
    }
    return this.finishAppend(pos);
  }

  /**
   * Appends `count` sender records that are slices of one buffer: record i is
   * `buf[offsets[2i], offsets[2i+1])`. This is the framers' path: they find record boundaries
   * anyway, and passing offsets instead of one view object per record keeps the hot path free
   * of per-record allocation. Same stamping and all-or-nothing rules as appendRecords.
   */
  appendSlices(
    buf: Buffer,
    offsets: ArrayLike<number>,
    count: number,
    refs?: readonly (string | undefined)[],
  ): number {
    this.host.checkWritable();
    if (count === 0) return this.nextSeq - 1;
    for (let k = 0; k < count; k++) this.checkSize(offsets[2 * k + 1]! - offsets[2 * k]!);
    if (refs) checkRefs(refs, count);
    this.checkBacklog();
    const time = this.stamp();
    let pos = this.len;
    for (let k = 0; k < count; k++) {
      const s = offsets[2 * k]!;
      const e = offsets[2 * k + 1]!;
      const ref = refs?.[k];
      this.room(pos, (e - s) * ESCAPE_EXPANSION + PREFIX_MAX + (ref === undefined ? 0 : ref.length + 1));
      pos = this.writeDataRecord(pos, time, buf, s, e, ref);
    }
    return this.finishAppend(pos);
  }

  /**
   * Appends the complete lines of `src[start, end)` as data records (each LF ends a record and
   * is not part of it), all stamped with one receive time, up to the first line whose payload
   * is longer than `limit` (which the caller cuts: `!trunc`) or the rest without an LF (which the
   * caller keeps for its next chunk). Returns where it stopped: the start of that line, or
   * `end`. The lines framer's path: plain ASCII lines are framed, checked and written many at a
   * time by the WebAssembly kernel (line-kernel.ts), every other line by writeDataRecord, so
   * the stored bytes are exactly what appendSlices would store.
   */
  appendLines(src: Buffer, start: number, end: number, limit: number): number {
    this.host.checkWritable();
    this.checkBacklog();
    const max = Math.min(limit, this.opts.maxRecordBytes);
    const time = this.stamp();
    const encoder = lineEncoder();
    let pos = this.len;
    let s = start;
    while (s < end) {
      let lf: number;
      if (encoder) {
        // room for a window of plain lines as records: the prefix adds about a fifth to log
        // lines; the kernel says FULL if short lines need more, and the buffer grows then
        this.room(pos, Math.min(end - s, encoder.windowSize) * 1.25 + PREFIX_MAX);
        const stop = encoder.encode(src, s, end, this.buf, pos, this.buf.length, time, this.nextSeq, max);
        this.nextSeq += encoder.records;
        pos = encoder.dstPos;
        s = encoder.srcPos;
        if (stop === STOP_DONE) break;
        if (stop === STOP_FULL) {
          this.room(pos, this.buf.length - pos + GROW_STEP);
          continue;
        }
        lf = encoder.slowEnd;
      } else {
        lf = src.indexOf(LF, s);
        if (lf === -1 || lf >= end) break;
      }
      if (lf - s > max) break;
      this.room(pos, (lf - s) * ESCAPE_EXPANSION + PREFIX_MAX);
      pos = this.writeDataRecord(pos, time, src, s, lf, undefined);
      s = lf + 1;
    }
    if (pos !== this.len) this.finishAppend(pos);
    return s;
  }

  private checkSize(length: number): number {
    if (length > this.opts.maxRecordBytes) {
      throw new LogwardError(
        "LW_RECORD_TOO_LARGE",
        `A record of ${length} bytes is larger than the store's limit of ${this.opts.maxRecordBytes} bytes; truncate it before appending.`,
      );
    }
    return length;
  }

  /** Writes one data record line at `pos` in the pending buffer; returns the new end. */
  private writeDataRecord(
    pos: number,
    time: Buffer,
    src: Buffer,
    s: number,
    e: number,
    ref: string | undefined,
  ): number {
    const buf = this.buf;
    pos = this.writePrefixStart(buf, pos, time, this.nextSeq++);
    buf[pos++] = DATA_KIND_BYTE;
    if (ref !== undefined) {
      buf[pos++] = AT;
      pos += buf.write(ref, pos, "latin1");
      this.lastRef = ref;
      this.refsSeen = true;
    }
    buf[pos++] = SPACE;
    pos = escapeInto(src, s, e, buf, pos);
    buf[pos++] = LF;
    return pos;
  }

  private finishAppend(pos: number): number {
    this.setLen(pos);
    this.host.markDirty(this);
    return this.nextSeq - 1;
  }

  /**
   * Appends a record the collector made (session opened, gap, ...). `text` is escaped too.
   * `ref` is a resume reference when the record stands for something the sender numbered
   * (an agent's gap notice), so that a resumed sender does not send it twice.
   */
  appendCollector(kind: CollectorKind, text: string, ref?: string): number {
    this.host.checkWritable();
    if (!COLLECTOR_KINDS.includes(kind) || kind === "seal") {
      // seals are made by appendSeal only: their bytes are what their MAC covers
      throw new LogwardError("LW_INTERNAL", `Unknown collector record kind '${kind}'.`);
    }
    const refBytes = ref === undefined ? 0 : checkRefs([ref], 1);
    const payload = Buffer.from(text, "utf8");
    this.reserve(payload.length * ESCAPE_EXPANSION + PREFIX_MAX + refBytes);
    const time = this.stamp();
    const buf = this.buf;
    let pos = this.writePrefixStart(buf, this.len, time, this.nextSeq);
    buf[pos++] = 0x21; // "!"
    pos += buf.write(kind, pos, "latin1");
    if (ref !== undefined) {
      buf[pos++] = AT;
      pos += buf.write(ref, pos, "latin1");
      this.lastRef = ref;
      this.refsSeen = true;
    }
    buf[pos++] = SPACE;
    pos = escapeInto(payload, 0, payload.length, buf, pos);
    buf[pos++] = LF;
    this.setLen(pos);
    this.nextSeq++;
    this.host.markDirty(this);
    return this.nextSeq - 1;
  }

  /**
   * Appends a `!seal` covering every line written since the stream's last seal (docs/SEALS.md),
   * MAC'd with `key`; returns its seq, or null when there is nothing new to seal (or the store
   * does not seal). The line's bytes are exactly `sealPayload`'s, so escaping changes nothing.
   */
  appendSeal(key: EpochKey): number | null {
    this.host.checkWritable();
    const chain = this.chain;
    if (!chain || this.nextSeq === chain.first) return null;
    chain.feed(this.buf, chain.hashed, this.len);
    const seq = this.nextSeq;
    const time = this.stamp().toString("latin1");
    const fields = {
      epoch: key.epoch,
      key: key.keyId,
      first: chain.first,
      last: seq - 1,
      bytes: chain.bytes,
      sha256: chain.digest(),
      prev: chain.prev,
    };
    const mac = sealMac(key.key, this.origin, this.stream, seq, time, fields);
    const line = Buffer.from(`${time} ${seq} !seal ${sealPayload(fields, mac)}\n`, "latin1");
    this.reserve(line.length);
    line.copy(this.buf, this.len);
    this.setLen(this.len + line.length);
    this.nextSeq++;
    chain.close(seq, mac);
    chain.hashed = this.len;
    this.host.markDirty(this);
    return seq;
  }

  /** The newest seal this writer knows (its seq and MAC), or null before the first. */
  get lastSeal(): { seq: number; mac: string } | null {
    const c = this.chain;
    return c && c.prev !== GENESIS ? { seq: c.first - 1, mac: c.prev } : null;
  }

  /**
   * Notes the stream's type, declared by the `!open` record `seq` just appended (its
   * `format=`), so that readers find it in index.json instead of scanning the stream
   * (query/open.ts). Written by the flush that makes that record durable, and only when it
   * changed; if that write fails, the next flush tries again.
   */
  declareType(type: string, seq: number): void {
    if (!isStreamType(type)) return;
    if (this.typeDue ? this.typeDue.type === type : this.declaredType === type) return;
    this.typeDue = { type, seq };
  }

  /** Records a declared type in index.json once its `!open` is durable (see declareType). */
  private async indexDeclaredType(): Promise<void> {
    const due = this.typeDue;
    if (!due || due.seq > this.durableSeq) return;
    this.typeDue = null;
    await this.updateIndex(() => {
      this.declaredType = due.type;
    }).catch(() => {
      this.typeDue ??= due;
    });
  }

  /**
   * Runs `append`, whose appends all get one receive time and stand or fall together: if one
   * throws, none of them stays. For records that belong together (`!nolf` and the record it
   * names): one time puts them in the same time window, and one append in the same write.
   */
  together<T>(append: () => T): T {
    const len = this.len;
    const nextSeq = this.nextSeq;
    const lastRef = this.lastRef;
    this.holdStamp = 1;
    try {
      return append();
    } catch (err) {
      this.setLen(len);
      this.nextSeq = nextSeq;
      this.lastRef = lastRef;
      throw err;
    } finally {
      this.holdStamp = 0;
    }
  }

  /** 1 inside `together` (the next stamp is kept), 2 once that stamp is taken. */
  private holdStamp = 0;

  /** Resolves when every record up to `seq` (default: all appended so far) is fsync'd. */
  waitDurable(seq = this.nextSeq - 1): Promise<void> {
    if (seq <= this.durableSeq) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ seq, resolve, reject }));
  }

  /** The resume reference of the last durable record that has one (null if none ever had). */
  async durableRef(): Promise<string | null> {
    await this.waitDurable();
    if (this.durableRefValue === undefined) this.durableRefValue = await this.findLastRefOnDisk();
    return this.durableRefValue;
  }

  /** Unwritten bytes (for tests and metrics). */
  get pendingBytes(): number {
    return this.len;
  }

  get segmentCount(): number {
    return this.sealed.length + (this.active ? 1 : 0);
  }

  /**
   * Bytes this stream takes on disk, or soon will: sealed segments as stored (compressed ones
   * at their compressed size), the active segment, and what waits to be written. This is what
   * quotas count.
   */
  diskBytes(): number {
    // bytes a flush has taken but not yet written count too, and so does a segment between
    // active and sealed: a quota check that runs while a write or a seal is in flight must not
    // see them vanish (it would miss the crossing for good)
    let n = STREAM_OVERHEAD_BYTES + this.len + this.unwritten + this.sealingBytes + (this.active?.size ?? 0);
    n += this.objects?.bytes ?? 0; // objects, each at least a block, and those being received
    for (const m of this.sealed) n += m.bytes;
    return n;
  }

  /** The sequence number of the oldest record still stored (nextSeq when there is none). */
  get firstSeq(): number {
    return this.sealed[0]?.firstSeq ?? this.active?.firstSeq ?? this.nextSeq;
  }

  /** Bytes of the active segment (written so far). */
  get activeBytes(): number {
    return this.active?.size ?? 0;
  }

  /** Receive times of the active segment's first and last records ("" without one). */
  get activeFirstTime(): string {
    return this.active?.firstTime ?? "";
  }

  get activeLastTime(): string {
    return this.active?.lastTime ?? "";
  }

  /**
   * Removes the oldest sealed segment (quota or retention) and returns what it held, or null
   * when there is no sealed segment. The index forgets it first, then the files go (the plain
   * and the compressed name: compression may be finishing), then the directory is fsync'd.
   */
  async removeOldestSealed(): Promise<SegmentMeta | null> {
    const first = this.sealed[0];
    if (!first) return null;
    let meta = first;
    let indexDue = false;
    await this.updateIndex((sealed) => {
      // by seq, not identity: compression may have replaced the entry meanwhile
      const k = sealed.findIndex((m) => m.firstSeq === first.firstSeq);
      if (k !== -1) meta = sealed.splice(k, 1)[0]!;
    }).catch((err: unknown) => {
      // a full disk (what eviction is for): the index cannot be rewritten before space is
      // freed, so the files go first and the index after (recovery drops an entry whose
      // files are gone, as it would after a crash between the two)
      if (!isOutOfSpace(err)) throw err;
      indexDue = true;
    });
    for (const compressed of [false, true]) {
      await unlink(segmentPath(this.dir, meta.firstSeq, compressed)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "ENOENT") throw err;
      });
    }
    await fsyncDir(this.dir);
    if (indexDue) await this.updateIndex(() => {});
    return meta;
  }

  /** The receive time of the record appended last. */
  lastTime(): string {
    return formatTime(this.lastTimeUs);
  }

  /** The current receive time, never earlier than the last one of this stream. */
  private stamp(): Buffer {
    if (this.holdStamp === 2) return this.timeBytes;
    if (this.holdStamp === 1) this.holdStamp = 2;
    let us = this.host.nowUs();
    if (us < this.lastTimeUs) us = this.lastTimeUs;
    this.lastTimeUs = us;
    const ms = Math.floor(us / 1000);
    if (ms !== this.timeMs) {
      this.timeMs = ms;
      this.timeBytes.write(formatTime(us), 0, "latin1");
    } else {
      const micros = us - ms * 1000;
      this.timeBytes[23] = 0x30 + Math.floor(micros / 100);
      this.timeBytes[24] = 0x30 + (Math.floor(micros / 10) % 10);
      this.timeBytes[25] = 0x30 + (micros % 10);
    }
    return this.timeBytes;
  }

  private writePrefixStart(buf: Buffer, pos: number, time: Buffer, seq: number): number {
    for (let i = 0; i < TIME_LEN; i++) buf[pos + i] = time[i]!;
    pos += TIME_LEN;
    buf[pos++] = SPACE;
    pos = writeDecimal(buf, pos, seq);
    buf[pos++] = SPACE;
    return pos;
  }

  /** The buffer appends go into (tests: which buffers are grown and freed). */
  get pendingBuffer(): Buffer {
    return this.buf;
  }

  /** Bytes of buffer memory this stream holds now: the pending buffer and its spare. */
  get heldBufferBytes(): number {
    return this.buf.length + (this.spare?.length ?? 0);
  }

  /**
   * Gives the pending buffer and its spare back (the store's idle sweep, for a stream that
   * appended nothing for a while): without it every stream ever written keeps two buffers of
   * up to a few hundred KiB, 500 quiet origins a few hundred MiB. The next append allocates
   * again. False while anything is pending or in flight.
   */
  releaseBuffers(): boolean {
    if (!this.idle) return false;
    this.dropBuffer();
    this.dropSpare();
    return true;
  }

  /** Frees the pending buffer (empty, nothing in flight: only idle streams call this). */
  private dropBuffer(): void {
    releaseBuffer(this.buf);
    this.buf = EMPTY;
  }

  private dropSpare(): void {
    if (this.spare) releaseBuffer(this.spare);
    this.spare = null;
  }

  /** Refuses an append while the caller ignores backpressure (over `hardLimitBytes`). */
  private checkBacklog(): void {
    if (this.len > this.opts.hardLimitBytes) {
      throw new LogwardError(
        "LW_BACKLOG_FULL",
        `The stream ${this.origin}/${this.stream} has ${this.len} unwritten bytes, over the hard limit of ${this.opts.hardLimitBytes}; the writer must wait for whenDrained() before appending more.`,
      );
    }
  }

  /** Makes room for `need` more bytes in the pending buffer (one record, or a collector line). */
  private reserve(need: number): void {
    this.checkBacklog();
    this.room(this.len, need);
  }

  /**
   * Makes room for `need` bytes at `pos` of the pending buffer, keeping its bytes before `pos`.
   * Grown per record to what is used, by half again at least (so a long batch copies its bytes
   * a bounded number of times) and in GROW_STEP steps: reserving a whole batch at the worst
   * escaping (4 bytes a byte) made every busy stream's two buffers twice the size its records
   * needed (bench: 20 streams x 2 x 550 KiB).
   */
  private room(pos: number, need: number): void {
    const want = pos + need;
    if (want <= this.buf.length) return;
    // by half again, but not past what a backlogged stream holds (stream_buffer and a read's
    // records): a buffer grown for one more record stays at that size as long as its stream is
    // busy, twice over with its spare
    const at = Math.max(want, Math.min(this.buf.length * 1.5, this.opts.highWaterBytes + GROW_STEP));
    const size = at <= INITIAL_BUFFER ? INITIAL_BUFFER : Math.ceil(at / GROW_STEP) * GROW_STEP;
    const grown = Buffer.allocUnsafe(size);
    this.buf.copy(grown, 0, 0, pos);
    // never in flight (flush takes it first) and never shared: its memory goes back now
    releaseBuffer(this.buf);
    this.buf = grown;
  }

  // ---- group commit (called by the store, one flush per stream at a time) ----

  hasWork(): boolean {
    return this.len > 0 || this.sealDue || this.unindexed.length > 0;
  }

  /**
   * Asks the next flush to seal the active segment (it is older than the age limit, or a quota
   * needs it gone). Resolves once the flush that seals it has run.
   */
  requestSeal(): Promise<void> {
    if (!this.active || this.active.size === 0) return Promise.resolve();
    this.sealDue = true;
    this.host.markDirty(this);
    return new Promise((resolve) => this.sealWaiters.push(resolve));
  }

  private sealWaiters: (() => void)[] = [];

  activeFirstTimeUs(): number | null {
    return this.active ? parseTime(this.active.firstTime) : null;
  }

  /**
   * Writes the pending buffer, rotating segments as needed, and fsyncs. On a write error the
   * unwritten part is kept (in order, ahead of newer appends) and the host retries; the
   * segment is cut back to what was written before, so no partial line stays on disk.
   */
  async flush(): Promise<void> {
    const buf = this.buf;
    const len = this.len;
    const lastSeq = this.nextSeq - 1;
    const lastRef = this.lastRef;
    if (this.chain) {
      // what is written is what a seal covers: fed in order, before newer appends
      this.chain.feed(buf, this.chain.hashed, len);
      this.chain.hashed = 0;
    }
    this.buf = this.spare ?? EMPTY;
    this.spare = null;
    this.len = 0;
    this.unwritten = len;
    const progress = { off: 0 };
    try {
      await this.indexSealed();
      await this.writeOut(buf, len, progress);
      if (this.sealDue && this.active) await this.seal();
      this.sealDue = false;
      for (const w of this.sealWaiters.splice(0)) w();
      if (this.active?.fh && len > 0) {
        await this.active.fh.datasync();
        const age = this.host.nowUs() - parseTime(this.active.firstTime);
        if (age > this.opts.maxSegmentAgeMs * 1000) await this.seal();
      }
    } catch (err) {
      this.unwritten = 0;
      const off = progress.off;
      const rest = len - off;
      const merged = Buffer.allocUnsafe(Math.max(INITIAL_BUFFER, rest + this.len));
      buf.copy(merged, 0, off, len);
      this.buf.copy(merged, rest, 0, this.len);
      this.buf = merged;
      this.len += rest;
      if (this.chain) this.chain.hashed += rest; // put back ahead of newer appends, fed already
      if (this.active?.fh) await this.active.fh.truncate(this.active.size).catch(() => {});
      this.host.writeFailed(this, err);
      return;
    }
    if (buf.length <= 4 * this.opts.highWaterBytes) this.spare = buf;
    else releaseBuffer(buf); // written and fsync'd: nothing reads it again
    this.host.notePending(-len); // durable now (flush's own reset of len moved them in flight)
    if (len > 0) this.publishDurable(lastSeq, lastRef);
    await this.indexDeclaredType();
  }

  private publishDurable(seq: number, ref: string | null): void {
    this.durableSeq = seq;
    if (ref !== null) this.durableRefValue = ref;
    let k = 0;
    while (k < this.waiters.length && this.waiters[k]!.seq <= seq) k++;
    const done = this.waiters.splice(0, k);
    for (const w of done) w.resolve();
    this.wakeIfDrained();
  }

  /** Rejects everyone waiting: the store failed and nothing more will become durable. */
  failWaiters(err: unknown): void {
    const w = this.waiters;
    this.waiters = [];
    for (const x of w) x.reject(err);
  }

  /** Writes `buf[0, len)`; `progress.off` says how much is written, even if this throws. */
  private async writeOut(buf: Buffer, len: number, progress: { off: number }): Promise<void> {
    const max = this.opts.maxSegmentBytes;
    let off = 0;
    while (off < len) {
      if (!this.active) await this.createSegment(seqAt(buf, off), timeAt(buf, off));
      const a = this.active!;
      const room = max - a.size;
      let cut = len;
      if (len - off > room) {
        cut = room > 0 ? buf.lastIndexOf(LF, off + room - 1) + 1 : 0;
        // a record larger than a whole segment still goes in, alone in a fresh segment
        if (cut <= off) cut = a.size === 0 ? buf.indexOf(LF, off) + 1 : off;
      }
      if (cut > off) {
        await pwriteAll(await this.activeHandle(a), buf, off, cut - off, a.size);
        a.size += cut - off;
        this.unwritten -= cut - off;
        const lastLine = buf.lastIndexOf(LF, cut - 2) + 1;
        const ls = Math.max(lastLine, off);
        a.lastSeq = seqAt(buf, ls);
        a.lastTime = timeAt(buf, ls);
        off = cut;
        progress.off = off;
      }
      if (off < len || a.size >= max) await this.seal();
    }
  }

  private async createSegment(firstSeq: number, firstTime: string): Promise<void> {
    const path = segmentPath(this.dir, firstSeq, false);
    this.checkDirs();
    const fh = await open(path, "wx", 0o640);
    try {
      await fsyncDir(this.dir);
    } catch (err) {
      // not active yet: remove it, or the retry's "wx" would fail for good (EEXIST)
      await fh.close().catch(() => {});
      await unlink(path).catch(() => {});
      throw err;
    }
    this.active = { fh, path, firstSeq, firstTime, size: 0, lastSeq: firstSeq - 1, lastTime: firstTime };
    this.host.fileOpened?.(this);
  }

  /** Seals the active segment: fsync, close, add it to the index, queue its compression. */
  private async seal(): Promise<void> {
    const a = this.active;
    if (!a) return;
    this.active = null;
    this.sealingBytes = a.size;
    let meta: SegmentMeta;
    try {
      // a closed file was fsync'd before it was closed (closeIdle takes only durable streams)
      if (a.fh) {
        const fh = a.fh;
        a.fh = null;
        this.host.fileClosed?.(this);
        await fh.datasync();
        await fh.close();
      }
      meta = {
        file: segmentName(a.firstSeq, false),
        firstSeq: a.firstSeq,
        lastSeq: a.lastSeq,
        firstTime: a.firstTime,
        lastTime: a.lastTime,
        records: a.lastSeq - a.firstSeq + 1,
        bytes: a.size,
        rawBytes: a.size,
        compressed: false,
        lastRef: this.refsSeen ? await this.lastRefInFile(a.path, a.size) : null,
      };
    } finally {
      this.sealingBytes = 0;
    }
    this.sealed.push(meta);
    this.unindexed.push(meta);
    await this.indexSealed();
    this.host.segmentSealed?.(this);
  }

  /** Sealed segments not yet in index.json (its write failed, e.g. a full disk): the next flush retries. */
  private unindexed: SegmentMeta[] = [];

  /** Writes index.json for segments sealed since it last succeeded, then queues their compression. */
  private async indexSealed(): Promise<void> {
    if (this.unindexed.length === 0) return;
    await this.updateIndex(() => {});
    for (const meta of this.unindexed.splice(0))
      if (this.opts.compress) this.host.enqueueCompression(this, meta);
  }

  /** Runs `change` on the sealed list and rewrites index.json, one rewrite at a time. */
  updateIndex(change: (sealed: SegmentMeta[]) => void): Promise<void> {
    const next = this.indexQueue.then(async () => {
      change(this.sealed);
      await writeIndex(this.dir, this.sealed, this.declaredType);
    });
    this.indexQueue = next.catch(() => {});
    return next;
  }

  private async lastRefInFile(path: string, size: number): Promise<string | null> {
    const fh = await openNoFollow(path);
    try {
      const tail = await readRange(fh, Math.max(0, size - 1024 * 1024), size);
      const start = size > tail.length ? tail.indexOf(LF) + 1 : 0;
      const found = lastRefIn(tail.subarray(start), tail.length - start - 1);
      if (found !== null || size <= tail.length) return found;
      const all = await readRange(fh, 0, size);
      return lastRefIn(all, size - 1);
    } finally {
      await fh.close();
    }
  }

  private async findLastRefOnDisk(): Promise<string | null> {
    if (this.active && this.active.size > 0) {
      const found = await this.lastRefInFile(this.active.path, this.active.size);
      if (found !== null) return found;
    }
    for (let k = this.sealed.length - 1; k >= 0; k--) {
      const ref = this.sealed[k]!.lastRef;
      if (ref !== null) return ref;
    }
    return null;
  }

  /** Closes the active segment's file (it stays active; the next open appends to it). */
  async closeFiles(): Promise<void> {
    await this.indexQueue;
    if (this.active) {
      const fh = this.active.fh;
      this.active = null;
      if (fh) {
        this.host.fileClosed?.(this);
        await fh.close();
      }
    }
  }
}
