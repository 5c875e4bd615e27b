// The sender's durable spool: records are written here, fsync'd, and only then sent; they are
// removed only once the collector acknowledges them as durable. With the collector's resume
// point (the welcome's seq) that is exactly-once delivery across crashes of either side.
//
// On disk (docs/PROTOCOL.md, "The sender's spool"):
//   <dir>/state.json              spool id, next seq floor, source positions, dropped head range
//   <dir>/<20-digit seq>.spool    segments named by the first seq they may hold, entries of
//     <type: 1> <body length: 4 BE> <crc32 of type and body: 4 BE> <body>
//     'R' record      <seq: 8> <sender time µs: 8> <bytes>
//     'U' record      as 'R', for a record its source did not end with LF (sent as a 'U' frame)
//     'G' gap         <first seq: 8> <last seq: 8> <first µs: 8> <last µs: 8>: dropped records
//     'C' checkpoint  JSON {source: position}: where each source stood after the entries before it
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

import {
  closeSync,
  fdatasyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
} from "node:fs";
import { type FileHandle, open, unlink } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { LogwardError } from "../errors.ts";
import { fsyncDir, pwriteAll, writeFileAtomic } from "../store/files.ts";
import { encodeGap, encodeRecord } from "../wire/agent.ts";
import { readU64, writeU64 } from "../wire/u64.ts";

export const T_REC = 0x52; // R
export const T_UNTERMINATED = 0x55; // U: a record no LF followed
export const T_GAP = 0x47; // G
export const T_CHECK = 0x43; // C
const HEAD = 9;
const GAP_BODY = 32;
/** Largest record the spool keeps: the collector's own maximum. */
export const MAX_SPOOL_RECORD = 1024 * 1024;
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

export interface GapRange {
  first: number;
  last: number;
  firstUs: number;
  lastUs: number;
}

interface Segment {
  name: string;
  firstSeq: number;
  /** Highest seq in the segment (firstSeq - 1 while it has none). */
  lastSeq: number;
  /** Durable size: everything below it is fsync'd and may be sent. */
  size: number;
}

interface State {
  id: string;
  nextSeq: number;
  positions: Record<string, unknown>;
  dropped: GapRange | null;
}

export interface SpoolStats {
  records: number;
  droppedRecords: number;
  bytes: number;
}

function segName(seq: number): string {
  return `${String(seq).padStart(20, "0")}.spool`;
}

function newId(): string {
  return `${Date.now().toString(36)}${Math.floor(Math.random() * 2 ** 40).toString(36)}`;
}

function entryHeader(buf: Buffer, at: number, type: number, bodyLen: number): void {
  buf[at] = type;
  buf.writeUInt32BE(bodyLen, at + 1);
}

function entryCrc(buf: Buffer, at: number, bodyLen: number): number {
  return crc32(buf.subarray(at + HEAD, at + HEAD + bodyLen), buf[at]!);
}

/** One entry as parsed from a segment; `body` is a view into the read buffer. */
export interface Entry {
  type: number;
  body: Buffer;
  /** Offset of the entry's end in its file. */
  end: number;
}

/** Parses whole, valid entries of `buf` (file offset `base`); stops at the first bad or partial one. */
export function parseEntries(buf: Buffer, base: number, out: Entry[]): number {
  let i = 0;
  while (buf.length - i >= HEAD) {
    const type = buf[i]!;
    const len = buf.readUInt32BE(i + 1);
    const rec = type === T_REC || type === T_UNTERMINATED;
    if ((!rec && type !== T_GAP && type !== T_CHECK) || len > MAX_SPOOL_RECORD + 16) return -1 - i;
    if (buf.length - i - HEAD < len) break;
    if (entryCrc(buf, i, len) !== buf.readUInt32BE(i + 5)) return -1 - i;
    if ((rec && len < 16) || (type === T_GAP && len !== GAP_BODY)) return -1 - i;
    out.push({ type, body: buf.subarray(i + HEAD, i + HEAD + len), end: base + i + HEAD + len });
    i += HEAD + len;
  }
  return i;
}

export class Spool {
  readonly dir: string;
  readonly opts: Required<SpoolOptions>;
  private state: State;
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

  private constructor(dir: string, opts: Required<SpoolOptions>, state: State) {
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
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new LogwardError("LW_IO", `Cannot create the spool directory ${dir}: ${(err as Error).message}.`);
    }
    let state: State;
    try {
      state = JSON.parse(readFileSync(join(dir, "state.json"), "utf8")) as State;
      if (typeof state.id !== "string" || !Number.isSafeInteger(state.nextSeq)) throw new Error("bad state");
    } catch (err) {
      if (
        (err as NodeJS.ErrnoException).code !== "ENOENT" &&
        readdirSync(dir).some((f) => f.endsWith(".spool"))
      ) {
        throw new LogwardError(
          "LW_IO",
          `The spool ${dir} has segments but its state.json is damaged; move the directory away to start a new spool.`,
        );
      }
      state = { id: newId(), nextSeq: 1, positions: {}, dropped: null };
      await writeFileAtomic(join(dir, "state.json"), JSON.stringify(state));
    }
    const spool = new Spool(dir, opts, state);
    await spool.recover();
    return spool;
  }

  /** Reads every segment, cuts a torn tail, and takes seqs and positions from what remains. */
  private async recover(): Promise<void> {
    const names = readdirSync(this.dir)
      .filter((f) => /^\d{20}\.spool$/.test(f))
      .sort();
    for (const name of readdirSync(this.dir)) if (name.endsWith(".tmp")) await unlink(join(this.dir, name));
    let cut = false;
    for (const name of names) {
      const path = join(this.dir, name);
      if (cut) {
        await unlink(path); // after a damaged segment nothing can be trusted to be in order
        continue;
      }
      const firstSeq = Number(name.slice(0, 20));
      const seg: Segment = { name, firstSeq, lastSeq: firstSeq - 1, size: 0 };
      const data = readFileSync(path);
      const entries: Entry[] = [];
      parseEntries(data, 0, entries);
      // a commit is its entries and then a checkpoint: what follows the last checkpoint is a
      // commit cut short by a crash, and goes (its records were never sent, and a replayable
      // source reads them again from the checkpoint's position)
      let good = 0;
      let seqs = seg.lastSeq;
      let records = 0;
      for (const e of entries) {
        if (e.type === T_CHECK) {
          this.takeCheckpoint(e);
          seg.lastSeq = seqs;
          this.stats.records += records;
          records = 0;
          good = e.end;
        } else {
          seqs = entrySeq(e);
          if (e.type === T_REC || e.type === T_UNTERMINATED) records++;
        }
      }
      seg.size = good;
      if (good < data.length) {
        const fd = openSync(path, "r+");
        try {
          ftruncateSync(fd, good);
          fdatasyncSync(fd);
        } finally {
          closeSync(fd);
        }
        cut = true;
      }
      if (seg.size === 0) {
        await unlink(path);
        continue;
      }
      this.segments.push(seg);
      this.stats.bytes += seg.size;
    }
    await fsyncDir(this.dir);
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

  private takeCheckpoint(e: Entry): void {
    try {
      Object.assign(this.positions, JSON.parse(e.body.toString("utf8")));
    } catch {
      // a checkpoint that passed its CRC is well formed; ignore one that is not
    }
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
    const size = HEAD + 16 + data.length;
    const seq = this.nextSeq++;
    const now = this.opts.now();
    if (sourcePosition) this.setPosition(sourcePosition[0], sourcePosition[1]);
    if (!this.makeRoom(size + (this.tailGap ? HEAD + GAP_BODY : 0))) {
      if (this.tailGap) {
        this.tailGap.last = seq;
        this.tailGap.lastUs = now;
      } else this.tailGap = { first: seq, last: seq, firstUs: now, lastUs: now };
      this.stats.droppedRecords++;
      this.schedule();
      return false;
    }
    if (this.tailGap) this.closeTailGap();
    const at = this.reserve(size);
    entryHeader(this.pending, at, unterminated ? T_UNTERMINATED : T_REC, 16 + data.length);
    writeU64(this.pending, seq, at + HEAD);
    writeU64(this.pending, Math.max(0, now), at + HEAD + 8);
    this.pending.set(data, at + HEAD + 16);
    this.pending.writeUInt32BE(entryCrc(this.pending, at, 16 + data.length), at + 5);
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
    const at = this.reserve(HEAD + GAP_BODY);
    entryHeader(this.pending, at, T_GAP, GAP_BODY);
    const b = at + HEAD;
    this.pending.writeBigUInt64BE(BigInt(g.first), b);
    this.pending.writeBigUInt64BE(BigInt(g.last), b + 8);
    this.pending.writeBigInt64BE(BigInt(g.firstUs), b + 16);
    this.pending.writeBigInt64BE(BigInt(g.lastUs), b + 24);
    this.pending.writeUInt32BE(entryCrc(this.pending, at, GAP_BODY), at + 5);
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
      if (first === 0) first = e.type === T_GAP ? Number(e.body.readBigUInt64BE(0)) : seq;
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

  /** Writes the pending entries (plus a checkpoint), fdatasyncs, then publishes. */
  private async commit(): Promise<void> {
    try {
      // every commit ends with a checkpoint (the positions, or {} when none moved): it marks
      // the commit complete for recovery
      if (this.pendingLen > 0 || this.positionsDirty) {
        const json = Buffer.from(this.positionsDirty ? JSON.stringify(this.positions) : "{}");
        const at = this.reserve(HEAD + json.length);
        entryHeader(this.pending, at, T_CHECK, json.length);
        json.copy(this.pending, at + HEAD);
        this.pending.writeUInt32BE(entryCrc(this.pending, at, json.length), at + 5);
        this.positionsDirty = false;
      }
      const buf = this.pending;
      const len = this.pendingLen;
      const lastSeq = this.pendingLastSeq;
      const positions = { ...this.positions };
      // two buffers take turns: one fills while the other is written
      this.pending = this.spare ?? Buffer.allocUnsafe(256 * 1024);
      this.spare = null;
      this.pendingLen = 0;
      this.inflightLen = len;
      const from = await this.enforceLimit(buf, len);
      // an active segment the collector holds entirely goes too (the next batch starts a new
      // one): otherwise a spool full of acknowledged records would refuse new ones
      const act = this.segments.at(-1);
      if (act && this.active && act.lastSeq <= this.acked && act.lastSeq >= act.firstSeq) {
        await this.active.close();
        this.active = null;
        this.segments.pop();
        this.stats.bytes -= act.size;
        this.doomed.push(act.name);
      }
      const doomed = this.doomed;
      this.doomed = [];
      // before a segment goes, the state takes over what it held: the positions, the seq floor
      // as of the last commit (never this one's: they are not durable yet), the dropped range
      if (doomed.length > 0 || from > 0) await this.saveState();
      for (const name of doomed) await unlink(join(this.dir, name)).catch(() => {});
      if (len > 0) {
        let seg = this.segments.at(-1);
        if (!seg || !this.active || seg.size >= this.segmentBytes) {
          if (this.active) {
            await this.active.close();
            this.active = null;
          }
          const prev = this.segments.at(-1)?.firstSeq ?? 0;
          const firstSeq = Math.max(this.firstSeqIn(buf.subarray(from), len - from, lastSeq), prev + 1);
          seg = { name: segName(firstSeq), firstSeq, lastSeq: firstSeq - 1, size: 0 };
          this.active = await open(join(this.dir, seg.name), "wx", 0o600);
          await fsyncDir(this.dir);
          this.segments.push(seg);
        }
        await pwriteAll(this.active, buf, from, len - from, seg.size);
        await this.active.datasync();
        seg.size += len - from;
        this.stats.bytes += len - from;
        this.inflightLen = 0;
        seg.lastSeq = Math.max(seg.lastSeq, lastSeq);
      }
      this.durableLastSeq = Math.max(this.durableLastSeq, lastSeq);
      this.inflightLen = 0;
      if (buf.length <= 8 * 1024 * 1024) this.spare = buf;
      if (doomed.length > 0) await fsyncDir(this.dir);
      this.committedPositions = positions;
      if (this.tailGap && this.makeRoom(HEAD + GAP_BODY + this.segmentBytes)) {
        this.closeTailGap();
        this.commitAgain = true;
      }
      for (const w of this.waiters.splice(0)) w();
      for (const fn of this.commitListeners) fn();
    } catch (err) {
      this.failed = new LogwardError(
        "LW_IO",
        `The spool ${this.dir} cannot be written: ${(err as Error).message}.`,
      );
      for (const w of this.waiters.splice(0)) w();
      for (const fn of this.commitListeners) fn();
    }
  }

  /** The first seq in the buffer's entries (a record's, or a gap's first), else `lastSeq + 1`. */
  private firstSeqIn(buf: Buffer, len: number, lastSeq: number): number {
    const entries: Entry[] = [];
    parseEntries(buf.subarray(0, len), 0, entries);
    for (const e of entries) {
      if (e.type === T_REC || e.type === T_UNTERMINATED) return Number(e.body.readBigUInt64BE(0));
      if (e.type === T_GAP) return Number(e.body.readBigUInt64BE(0));
    }
    return lastSeq + 1;
  }

  private async saveState(): Promise<void> {
    const nextSeq = Math.max(this.state.nextSeq, this.durableLastSeq + 1);
    this.state = { ...this.state, nextSeq, positions: this.committedPositions };
    await writeFileAtomic(join(this.dir, "state.json"), JSON.stringify(this.state));
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
    if (this.tailGap && this.makeRoom(HEAD + GAP_BODY + this.segmentBytes)) this.closeTailGap();
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

/**
 * Encodes a spool entry as the agent frame that carries it (R, U or G); null for checkpoints.
 * `plain`: a U entry goes as R (for a collector that does not know U frames).
 */
export function frameFor(e: Entry, plain = false): Buffer | null {
  if (e.type === T_REC || e.type === T_UNTERMINATED)
    return encodeRecord(readU64(e.body, 0), e.body.subarray(16), e.type === T_UNTERMINATED && !plain);
  if (e.type === T_GAP) {
    const first = Number(e.body.readBigUInt64BE(0));
    const last = Number(e.body.readBigUInt64BE(8));
    return encodeGap({
      seq: last,
      dropped: last - first + 1,
      firstUs: Number(e.body.readBigInt64BE(16)),
      lastUs: Number(e.body.readBigInt64BE(24)),
    });
  }
  return null;
}

/** The seq an entry ends at (R: its seq; G: its last), or 0 for a checkpoint. */
export function entrySeq(e: Entry): number {
  if (e.type === T_REC || e.type === T_UNTERMINATED) return readU64(e.body, 0);
  if (e.type === T_GAP) return readU64(e.body, 8);
  return 0;
}
