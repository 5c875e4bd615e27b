// The sender's durable spool: records are written here, fsync'd, and only then sent; they are
// removed only once the collector acknowledges them as durable. With the collector's resume
// point (the welcome's seq) that is exactly-once delivery across crashes of either side.
//
// On disk (docs/PROTOCOL.md, "The sender's spool"): <dir>/state.json (spool id, next seq
// floor, source positions, dropped head range) and segments of entries; the entry format is
// `spool-format.ts`, recovery at open `spool-recover.ts`.
//
// Every seq is used once: a dropped record keeps its seq and is covered by a gap, so the
// collector can count exactly what it never received. Group commit: appends fill a memory
// buffer; one commit at a time writes it, fdatasyncs, and then the entries may be sent.
//
// Bounded: the spool never holds more than `maxBytes` on disk (plus gap entries, 37 bytes
// each, at most one per commit while full); over it the policy decides. `drop-oldest` removes
// the oldest segment and remembers its unacknowledged seqs as the dropped head range;
// `drop-newest` refuses new records and covers them with one gap written when room returns.
// Unwritten memory is bounded too: sources wait for `whenWritable()`.
//
// Why this file is one unit (over 350 lines): what is left here is the commit state machine,
// and every part of it (appends, the overflow policy, the commit steps, acks) reads and writes
// the same state: the pending buffer, the segment list, the byte count, the tail gap. The order
// of those updates around each fsync is the durability argument, so it stays readable in one
// place; the parts that stand alone (entry bytes, recovery, state.json) are their own modules.

import { type FileHandle, open, unlink } from "node:fs/promises";
import { join } from "node:path";
import { LogwardError } from "../errors.ts";
import { fsyncDir, pwriteAll } from "../store/files.ts";
import {
  ENTRY_HEAD,
  type Entry,
  entryFirstSeq,
  entrySeq,
  firstSeqIn,
  GAP_ENTRY_SIZE,
  type GapRange,
  MAX_SPOOL_RECORD,
  parseEntries,
  recordEntrySize,
  type Segment,
  segmentName,
  T_CHECK,
  writeCheckpointEntry,
  writeGapEntry,
  writeRecordEntry,
} from "./spool-format.ts";
import { recoverSegments } from "./spool-recover.ts";
import { openSpoolState, type SpoolState, saveSpoolState } from "./spool-state.ts";

/** Unwritten bytes before sources are asked to wait. */
const PENDING_HIGH = 4 * 1024 * 1024;

export type OverflowPolicy = "drop-oldest" | "drop-newest";
export const POLICIES: readonly OverflowPolicy[] = ["drop-oldest", "drop-newest"];

export interface SpoolOptions {
  maxBytes: number;
  policy: OverflowPolicy;
  /** Clock for sender times, µs (tests). */
  now?: () => number;
}

/** The entries one commit writes, taken out of `pending`, and the state as of them. */
interface Batch {
  buf: Buffer;
  len: number;
  lastSeq: number;
  positions: Record<string, unknown>;
}

export interface SpoolStats {
  records: number;
  droppedRecords: number;
  bytes: number;
}

export class Spool {
  readonly dir: string;
  readonly opts: Required<SpoolOptions>;
  private state: SpoolState;
  private readonly segments: Segment[] = [];
  private active: FileHandle | null = null;
  private readonly segmentBytes: number;
  /** Entries appended but not yet written. */
  private pending: Buffer = Buffer.allocUnsafe(256 * 1024);
  private pendingLen = 0;
  /** The buffer the last commit wrote, reused for the next one (at most 8 MiB is kept). */
  private spare: Buffer | null = null;
  private pendingLastSeq = 0;
  /** Bytes taken out of `pending` by the commit under way, not yet counted in `stats.bytes`. */
  private inflightLen = 0;
  /** Positions as of the pending entries, and as of the last commit. */
  private positions: Record<string, unknown>;
  private committedPositions: Record<string, unknown>;
  private positionsDirty = false;
  /** Records refused under drop-newest since the last gap entry. */
  private tailGap: GapRange | null = null;
  nextSeq: number;
  /** Highest seq the collector acknowledged (or welcomed) in this process. */
  acked = 0;
  /** Highest seq written and fsync'd. */
  private durableLastSeq = 0;
  private committing: Promise<void> | null = null;
  private commitAgain = false;
  private waiters: (() => void)[] = [];
  private commitListeners = new Set<() => void>();
  private failed: Error | null = null;
  readonly stats: SpoolStats = { records: 0, droppedRecords: 0, bytes: 0 };

  private constructor(dir: string, opts: Required<SpoolOptions>, state: SpoolState) {
    this.dir = dir;
    this.opts = opts;
    this.state = state;
    this.nextSeq = state.nextSeq;
    this.positions = { ...state.positions };
    this.committedPositions = { ...state.positions };
    this.segmentBytes = Math.max(64 * 1024, Math.min(16 * 1024 * 1024, Math.floor(opts.maxBytes / 8)));
  }

  get id(): string {
    return this.state.id;
  }

  /** Opens (creating or recovering) the spool in `dir`. */
  static async open(dir: string, options: SpoolOptions): Promise<Spool> {
    const opts: Required<SpoolOptions> = { now: () => Date.now() * 1000, ...options };
    const state = await openSpoolState(dir);
    const spool = new Spool(dir, opts, state);
    await spool.recover();
    return spool;
  }

  /** Takes the segments that survived (see spool-recover.ts), and seqs and positions from them. */
  private async recover(): Promise<void> {
    const found = await recoverSegments(this.dir, this.positions);
    this.segments.push(...found.segments);
    this.stats.records += found.records;
    this.stats.bytes += found.bytes;
    this.committedPositions = { ...this.positions };
    const last = this.segments.at(-1);
    this.nextSeq = Math.max(
      this.state.nextSeq,
      (last?.lastSeq ?? 0) + 1,
      (this.state.dropped?.last ?? 0) + 1,
    );
    this.pendingLastSeq = this.nextSeq - 1;
    this.durableLastSeq = this.nextSeq - 1;
  }

  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  /** The seq range dropped from the head (drop-oldest) that the collector has not acknowledged. */
  get droppedHead(): GapRange | null {
    const d = this.state.dropped;
    return d && d.last > this.acked ? d : null;
  }

  /** Where a source stood when it last committed (for resuming it). */
  position(source: string): unknown {
    return this.committedPositions[source];
  }

  /**
   * Appends one record (copied); returns false when the policy refused it (drop-newest).
   * `unterminated`: its source did not end it with LF (a file's last line).
   */
  append(payload: Uint8Array, sourcePosition?: [string, unknown], unterminated = false): boolean {
    if (this.failed) throw this.failed;
    const data = payload.length > MAX_SPOOL_RECORD ? payload.subarray(0, MAX_SPOOL_RECORD) : payload;
    const size = recordEntrySize(data.length);
    const seq = this.nextSeq++;
    const now = this.opts.now();
    if (sourcePosition) this.setPosition(sourcePosition[0], sourcePosition[1]);
    if (!this.makeRoom(size + (this.tailGap ? GAP_ENTRY_SIZE : 0))) {
      if (this.tailGap) {
        this.tailGap.last = seq;
        this.tailGap.lastUs = now;
      } else this.tailGap = { first: seq, last: seq, firstUs: now, lastUs: now };
      this.stats.droppedRecords++;
      this.schedule();
      return false;
    }
    if (this.tailGap) this.closeTailGap();
    const at = this.reserve(size); // first: it may replace `pending` with a larger buffer
    writeRecordEntry(this.pending, at, seq, now, data, unterminated);
    this.pendingLastSeq = seq;
    this.stats.records++;
    this.schedule();
    return true;
  }

  /** Records where a source stands after everything appended so far. */
  setPosition(source: string, position: unknown): void {
    this.positions[source] = position;
    this.positionsDirty = true;
    this.schedule();
  }

  get pendingBytes(): number {
    return this.pendingLen;
  }

  /** Resolves when sources may append again (the unwritten buffer is below its mark). */
  whenWritable(): Promise<void> {
    if (this.pendingLen < PENDING_HIGH || this.failed) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  /** Called after every commit: new entries may be readable. Returns the unsubscribe function. */
  onCommit(fn: () => void): () => void {
    this.commitListeners.add(fn);
    return () => this.commitListeners.delete(fn);
  }

  /** Resolves once everything appended before the call is durable. */
  async flush(): Promise<void> {
    this.schedule();
    while (this.committing) await this.committing;
    if (this.failed) throw this.failed;
  }

  private closeTailGap(): void {
    const g = this.tailGap!;
    this.tailGap = null;
    const at = this.reserve(GAP_ENTRY_SIZE);
    writeGapEntry(this.pending, at, g);
    this.pendingLastSeq = g.last;
  }

  /**
   * drop-newest: true if `size` more bytes fit. drop-oldest always takes the record here and
   * makes room when it commits (`enforceLimit`), where whole segments can be removed safely.
   */
  private makeRoom(size: number): boolean {
    if (this.opts.policy === "drop-oldest") return true;
    return this.stats.bytes + this.inflightLen + this.pendingLen + size <= this.opts.maxBytes;
  }

  /** Adds seqs `first..last` (sent or not, but never acknowledged) to the dropped head range. */
  private addDropped(first: number, last: number): void {
    const from = Math.max(first, this.acked + 1, (this.state.dropped?.last ?? 0) + 1);
    if (last < from) return;
    const now = this.opts.now();
    const d = this.state.dropped && this.state.dropped.last > this.acked ? this.state.dropped : null;
    this.state = {
      ...this.state,
      dropped: d
        ? { first: d.first, last, firstUs: d.firstUs, lastUs: now }
        : { first: from, last, firstUs: now, lastUs: now },
    };
    this.stats.droppedRecords += last - from + 1;
  }

  /**
   * drop-oldest, inside a commit (nothing else writes): removes the oldest segments, the active
   * one included, and then the oldest entries of `buf`, until `len` bytes fit. Returns where
   * the kept part of `buf` starts.
   */
  private async enforceLimit(buf: Buffer, len: number): Promise<number> {
    if (this.opts.policy !== "drop-oldest") return 0;
    while (this.stats.bytes + len > this.opts.maxBytes && this.segments.length > 0) {
      const seg = this.segments.shift()!;
      if (this.segments.length === 0 && this.active) {
        await this.active.close();
        this.active = null;
      }
      this.stats.bytes -= seg.size;
      this.addDropped(seg.firstSeq, seg.lastSeq);
      this.doomed.push(seg.name);
    }
    if (len <= this.opts.maxBytes) return 0;
    // the batch alone is over the limit: its oldest records go too
    const entries: Entry[] = [];
    parseEntries(buf.subarray(0, len), 0, entries);
    let cut = 0;
    let first = 0;
    let last = 0;
    for (const e of entries) {
      if (len - cut <= this.opts.maxBytes || e.type === T_CHECK) break;
      const seq = entrySeq(e);
      if (first === 0) first = entryFirstSeq(e);
      last = seq;
      cut = e.end;
    }
    if (last > 0) this.addDropped(first, last);
    return cut;
  }

  private doomed: string[] = [];

  private reserve(size: number): number {
    if (this.pendingLen + size > this.pending.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.pending.length * 2, this.pendingLen + size));
      this.pending.copy(grown, 0, 0, this.pendingLen);
      this.pending = grown;
    }
    const at = this.pendingLen;
    this.pendingLen += size;
    return at;
  }

  /**
   * Starts a commit on the next turn of the event loop, never inside an append: a source adds
   * its records and then its position without yielding, so every commit sees records and the
   * position after them together (a checkpoint is never behind the records before it).
   */
  private schedule(): void {
    if (this.committing) {
      this.commitAgain = true;
      return;
    }
    this.committing = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.commit())
      .finally(() => {
        this.committing = null;
        if (this.commitAgain && !this.failed) {
          this.commitAgain = false;
          this.schedule();
        }
      });
  }

  /**
   * One commit, step by step: close the pending entries with a checkpoint and take them out of
   * the buffer; make room (drop-oldest) and retire segments the collector holds; write the
   * batch and fdatasync it; then publish it: its entries may be sent and its positions count.
   */
  private async commit(): Promise<void> {
    try {
      this.appendCheckpoint();
      const batch = this.takeBatch();
      const from = await this.enforceLimit(batch.buf, batch.len);
      await this.retireAckedActive();
      const removed = await this.removeDoomed(from);
      if (batch.len > 0) await this.writeBatch(batch, from);
      await this.publish(batch, removed);
    } catch (err) {
      this.failed = new LogwardError(
        "LW_IO",
        `The spool ${this.dir} cannot be written: ${(err as Error).message}.`,
      );
      this.wakeAll();
    }
  }

  /**
   * Every commit ends with a checkpoint (the positions, or {} when none moved): it marks the
   * commit complete for recovery.
   */
  private appendCheckpoint(): void {
    if (this.pendingLen === 0 && !this.positionsDirty) return;
    const json = Buffer.from(this.positionsDirty ? JSON.stringify(this.positions) : "{}");
    const at = this.reserve(ENTRY_HEAD + json.length);
    writeCheckpointEntry(this.pending, at, json);
    this.positionsDirty = false;
  }

  /** Takes the pending entries for this commit: two buffers take turns, one fills while the other is written. */
  private takeBatch(): Batch {
    const batch: Batch = {
      buf: this.pending,
      len: this.pendingLen,
      lastSeq: this.pendingLastSeq,
      positions: { ...this.positions },
    };
    this.pending = this.spare ?? Buffer.allocUnsafe(256 * 1024);
    this.spare = null;
    this.pendingLen = 0;
    this.inflightLen = batch.len;
    return batch;
  }

  /**
   * An active segment the collector holds entirely goes too (the next batch starts a new one):
   * otherwise a spool full of acknowledged records would refuse new ones.
   */
  private async retireAckedActive(): Promise<void> {
    const act = this.segments.at(-1);
    if (!act || !this.active || act.lastSeq > this.acked || act.lastSeq < act.firstSeq) return;
    await this.active.close();
    this.active = null;
    this.segments.pop();
    this.stats.bytes -= act.size;
    this.doomed.push(act.name);
  }

  /**
   * Removes the segments marked to go (by the limit, by acks). Before a segment goes, the state
   * takes over what it held: the positions, the seq floor as of the last commit (never this
   * one's: they are not durable yet), the dropped range; also when the limit cut the batch
   * (`from` > 0). Returns whether any went (the directory then wants an fsync).
   */
  private async removeDoomed(from: number): Promise<boolean> {
    const doomed = this.doomed;
    this.doomed = [];
    if (doomed.length > 0 || from > 0) await this.saveState();
    for (const name of doomed) await unlink(join(this.dir, name)).catch(() => {});
    return doomed.length > 0;
  }

  /** Writes the batch from `from` on to the active segment (a new one when needed) and fdatasyncs it. */
  private async writeBatch({ buf, len, lastSeq }: Batch, from: number): Promise<void> {
    const { seg, file } = await this.segmentFor(buf, len, lastSeq, from);
    await pwriteAll(file, buf, from, len - from, seg.size);
    await file.datasync();
    seg.size += len - from;
    this.stats.bytes += len - from;
    this.inflightLen = 0;
    seg.lastSeq = Math.max(seg.lastSeq, lastSeq);
  }

  /** The active segment, or a new one (named by the batch's first seq) when there is none or it is full. */
  private async segmentFor(
    buf: Buffer,
    len: number,
    lastSeq: number,
    from: number,
  ): Promise<{ seg: Segment; file: FileHandle }> {
    const current = this.segments.at(-1);
    if (current && this.active && current.size < this.segmentBytes)
      return { seg: current, file: this.active };
    if (this.active) {
      await this.active.close();
      this.active = null;
    }
    const prev = this.segments.at(-1)?.firstSeq ?? 0;
    const firstSeq = Math.max(firstSeqIn(buf.subarray(from, len), lastSeq + 1), prev + 1);
    const seg: Segment = { name: segmentName(firstSeq), firstSeq, lastSeq: firstSeq - 1, size: 0 };
    const file = await open(join(this.dir, seg.name), "wx", 0o600);
    this.active = file;
    await fsyncDir(this.dir);
    this.segments.push(seg);
    return { seg, file };
  }

  /**
   * The batch is durable: the removals are made durable too, then its entries may be sent, its
   * positions count, and waiting sources and readers wake.
   */
  private async publish(batch: Batch, removed: boolean): Promise<void> {
    this.durableLastSeq = Math.max(this.durableLastSeq, batch.lastSeq);
    this.inflightLen = 0;
    if (batch.buf.length <= 8 * 1024 * 1024) this.spare = batch.buf;
    if (removed) await fsyncDir(this.dir);
    this.committedPositions = batch.positions;
    if (this.tailGap && this.makeRoom(GAP_ENTRY_SIZE + this.segmentBytes)) {
      this.closeTailGap();
      this.commitAgain = true;
    }
    this.wakeAll();
  }

  /** Sources waiting for room, and readers waiting for entries (also on failure: they see it). */
  private wakeAll(): void {
    for (const w of this.waiters.splice(0)) w();
    for (const fn of this.commitListeners) fn();
  }

  private async saveState(): Promise<void> {
    const nextSeq = Math.max(this.state.nextSeq, this.durableLastSeq + 1);
    this.state = { ...this.state, nextSeq, positions: this.committedPositions };
    await saveSpoolState(this.dir, this.state);
  }

  /**
   * The collector has everything up to `seq` durably. Segments wholly at or below it are
   * removed (the state, with the positions they held, is written first).
   */
  async ack(seq: number): Promise<void> {
    if (seq <= this.acked) return;
    this.acked = seq;
    if (this.state.dropped && this.state.dropped.last <= seq) this.state = { ...this.state, dropped: null };
    const done: Segment[] = [];
    while (this.segments.length > 1 && this.segments[0]!.lastSeq <= seq) done.push(this.segments.shift()!);
    if (done.length === 0) {
      // all of it, the active segment too: a commit removes that one (see commit)
      if (this.segments.length === 1 && this.segments[0]!.lastSeq <= seq) this.schedule();
      return;
    }
    for (const s of done) this.stats.bytes -= s.size;
    for (const s of done) this.doomed.push(s.name);
    // drop-newest: the refused records' gap is written as soon as there is room for it
    // (only once there is real room, so that one full period is one gap, not many small ones)
    if (this.tailGap && this.makeRoom(GAP_ENTRY_SIZE + this.segmentBytes)) this.closeTailGap();
    this.schedule();
  }

  /** Segments with their durable sizes, oldest first (for the reader). */
  segmentList(): readonly Readonly<Segment>[] {
    return this.segments;
  }

  get error(): Error | null {
    return this.failed;
  }

  async close(): Promise<void> {
    await this.flush().catch(() => {});
    if (this.tailGap) {
      this.closeTailGap();
      await this.flush().catch(() => {});
    }
    await this.active?.close();
    this.active = null;
  }
}
