// The seals of one stream's lines as `logward export` wrote them into an archive (one member,
// origins/ORIGIN/STREAM.log: the stored lines of a time window, `!seal` lines included, byte for
// byte): `verify-export --key`. The lines arrive in chunks as the archive is decompressed. Every
// seal whose whole coverage is in the member is checked as `verify` checks it in a store
// (seal-checks.ts; the bytes and their SHA-256, the chain to the seal before); a window cuts the
// coverage at both ends: the records before the first seal that can be checked (the window began
// inside a seal's coverage, or the records were stored before sealing began) and after the
// last seal line (the window ended before their seal, or they were not sealed yet) are counted,
// not failed. Seals at the edges must still be authentic. The first changed, missing, inserted
// or reordered covered line fails, with its why.

import { createHash, type Hash } from "node:crypto";
import { LF, seqAt, TIME_LEN } from "../store/record.ts";
import { nextSealLine, parseSealLine, type SealLine } from "../store/seal-format.ts";
import type { KeyDeriver } from "./key.ts";
import { sealProblem } from "./seal-checks.ts";

/** How much of a member's head is kept to find the first seal's coverage in it. */
const MAX_HEAD_BYTES = 64 * 1024 * 1024;

export interface LinesProblem {
  from: number;
  to: number;
  why: string;
  detail: string;
}

export interface LinesReport {
  origin: string;
  stream: string;
  records: number;
  seals: number;
  sealedRecords: number;
  sealedBytes: number;
  /** Records before the first seal whose coverage is whole in the member (0 if none). */
  headRecords: number;
  /** Records after the last seal line. */
  tailRecords: number;
  problem: LinesProblem | null;
}

/** The lines since the last seal, hashed, and what was odd about their seqs. */
class Interval {
  hash: Hash = createHash("sha256");
  bytes = 0;
  lines = 0;
  firstTime: string | null = null;
  /** The seq the next line must have. */
  expect: number;
  /** The first jump forward (records skipped) and the first step back (a line out of place). */
  gap: string | null = null;
  back: string | null = null;
  /** A line whose seq is not one the interval's seal can cover. */
  stray: number | null = null;
  private readonly first: number;

  constructor(first: number) {
    this.first = first;
    this.expect = first;
  }

  /** A line (its LF included) with its seq; a seal line only has its seq checked. */
  add(line: Buffer, seq: number, seal: boolean): void {
    if (seq > this.expect) this.gap ??= `records ${this.expect} to ${seq - 1} are missing`;
    else if (seq < this.expect)
      this.back ??= `record ${seq} stands where record ${this.expect} belongs: lines were swapped, duplicated or moved`;
    if (!seal && (seq < this.first || !(seq > 0))) this.stray ??= seq;
    this.expect = seq + 1;
    if (seal) return;
    this.firstTime ??= line.toString("latin1", 0, TIME_LEN);
    this.hash.update(line);
    this.bytes += line.length;
    this.lines++;
  }

  /** Why the interval does not match a seal covering first..last. */
  why(last: number): { why: string; detail: string } {
    const want = last - this.first + 1;
    if (this.stray !== null || this.lines > want)
      return {
        why: "inserted",
        detail: `a line that is not one of records ${this.first} to ${last} is among them${this.stray !== null ? ` (seq ${this.stray})` : ""}`,
      };
    if (this.lines < want)
      return {
        why: "missing",
        detail: this.gap ?? `${want - this.lines} of records ${this.first} to ${last} are missing`,
      };
    if (this.back) return { why: "reordered", detail: this.back };
    return { why: "changed", detail: "a record's bytes differ from what was sealed" };
  }
}

export class SealedLinesCheck {
  private readonly keys: KeyDeriver;
  private readonly allowLate: boolean;
  private readonly report: LinesReport;
  private carry: Buffer[] = [];
  /** Lines before the first seal line, kept (up to MAX_HEAD_BYTES) to find its coverage. */
  private head: { line: Buffer; seq: number }[] | null = [];
  private headBytes = 0;
  private interval: Interval | null = null;
  private prev: SealLine | null = null;

  constructor(keys: KeyDeriver, origin: string, stream: string, allowLate = false) {
    this.keys = keys;
    this.allowLate = allowLate;
    this.report = {
      origin,
      stream,
      records: 0,
      seals: 0,
      sealedRecords: 0,
      sealedBytes: 0,
      headRecords: 0,
      tailRecords: 0,
      problem: null,
    };
  }

  /**
   * The next bytes of the member. A line cut by a chunk's end is kept as parts and joined once
   * its LF comes, so that a hostile archive's one huge line costs one copy, not one per chunk.
   */
  push(chunk: Buffer): void {
    if (this.report.problem) return;
    let from = 0;
    if (this.carry.length > 0) {
      const lf = chunk.indexOf(LF);
      if (lf === -1) {
        this.carry.push(Buffer.from(chunk));
        return;
      }
      const line = Buffer.concat([...this.carry, chunk.subarray(0, lf + 1)]);
      this.carry = [];
      this.lines(line);
      from = lf + 1;
    }
    const lastLf = chunk.lastIndexOf(LF);
    if (lastLf >= from) this.lines(chunk.subarray(from, lastLf + 1));
    const rest = Math.max(from, lastLf + 1);
    if (rest < chunk.length) this.carry.push(Buffer.from(chunk.subarray(rest)));
  }

  /** Whole lines, each ending with LF. */
  private lines(buf: Buffer): void {
    let seal = nextSealLine(buf, 0);
    for (let s = 0; s < buf.length && !this.report.problem; ) {
      const e = buf.indexOf(LF, s);
      const line = buf.subarray(s, e + 1);
      const seq = e - s > TIME_LEN + 2 ? seqAt(buf, s) : 0;
      this.report.records++;
      if (seal && seal.start === s) {
        this.onSeal(buf.toString("latin1", s, e), seq);
        seal = nextSealLine(buf, e + 1);
      } else this.onLine(line, seq);
      s = e + 1;
    }
  }

  private onLine(line: Buffer, seq: number): void {
    if (this.interval) {
      this.interval.add(line, seq, false);
      return;
    }
    this.report.headRecords++;
    if (!this.head) return;
    this.headBytes += line.length;
    if (this.headBytes > MAX_HEAD_BYTES) this.head = null;
    else this.head.push({ line: Buffer.from(line), seq });
  }

  private fail(from: number, to: number, why: string, detail: string): false {
    this.report.problem ??= { from, to, why, detail };
    return false;
  }

  /** Checks a seal line and what it covers; false once a problem is recorded. */
  private onSeal(text: string, seqHere: number): boolean {
    const seal = parseSealLine(text);
    if (!seal) {
      return this.fail(
        seqHere,
        seqHere,
        "forged",
        `the line at seq ${seqHere} has the kind !seal but is not a seal logward writes`,
      );
    }
    let iv = this.interval;
    if (!iv) {
      // the member's first seal: its coverage is whole only if its first record is in the head
      iv = new Interval(seal.first);
      const at = this.head?.findIndex((h) => h.seq === seal.first) ?? -1;
      if (at !== -1) {
        for (const h of this.head!.slice(at)) iv.add(h.line, h.seq, false);
        this.report.headRecords = at;
      }
      this.head = null;
      iv.add(Buffer.alloc(0), seqHere, true);
      if (at === -1) {
        // cut by the window (or stored before sealing began): only the seal itself is checked
        const bad = sealProblem(this.keys, this.report.origin, this.report.stream, seal, null, null, true);
        if (bad) return this.fail(seal.first, seal.seq, bad.why, bad.detail);
        this.report.headRecords++; // the seal line belongs to the cut span too
        this.next(seal);
        return true;
      }
    } else iv.add(Buffer.alloc(0), seqHere, true);
    const { origin, stream } = this.report;
    const bad = sealProblem(this.keys, origin, stream, seal, this.prev, iv.firstTime, this.allowLate);
    if (bad) return this.fail(seal.first, seal.seq, bad.why, bad.detail);
    const where = `the seal at seq ${seal.seq}`;
    if (this.prev && (seal.prev !== this.prev.mac || seal.first !== this.prev.seq + 1))
      return this.fail(
        this.prev.seq,
        seal.seq,
        "missing",
        `${where} does not follow the seal at seq ${this.prev.seq}: a seal between them is missing, or seals were moved`,
      );
    if (iv.hash.digest("hex") !== seal.sha256 || iv.bytes !== seal.bytes) {
      const odd = iv.why(seal.last);
      return this.fail(
        seal.first,
        seal.last,
        odd.why,
        `${odd.detail} (${where}, epoch ${seal.epoch}, covers records ${seal.first} to ${seal.last})`,
      );
    }
    this.report.seals++;
    this.report.sealedRecords += seal.last - seal.first + 1;
    this.report.sealedBytes += seal.bytes;
    this.next(seal);
    return true;
  }

  private next(seal: SealLine): void {
    this.prev = seal;
    this.interval = new Interval(seal.seq + 1);
  }

  end(): LinesReport {
    // export writes whole lines only; a cut last line is the member check's to refuse
    this.report.tailRecords = this.interval ? this.interval.lines : 0;
    return this.report;
  }
}
