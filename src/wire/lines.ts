// `lines`: records end at LF (0x0A). The LF is not part of the record; a CR before it is (kept
// and escaped, so nothing is lost). A last line without LF is still a record, handed over as
// `unterminated` so that the missing LF is kept on record too. A line longer
// than the limit is kept cut to its first `limit` bytes and reported with its real length;
// the rest of it, up to its LF, is counted and dropped, never turned into further records.

import { MIN_CARRY, NO_BYTES } from "./carry.ts";
import { type Framer, OffsetBatch, type RecordSink } from "./framer.ts";

const LF = 0x0a;

export class LineFramer implements Framer {
  /** Spanning records are copied into the carry, every other goes to the sink during push. */
  readonly keepsNoChunk = true;
  private readonly limit: number;
  private readonly sink: RecordSink;
  private readonly batch = new OffsetBatch();
  /** The start of a line that spans chunks (at most `limit` bytes). */
  private carry: Buffer;
  private carryLen = 0;
  /** Bytes of the current line seen beyond what `carry` holds (a line over the limit). */
  private overflow = 0;

  constructor(limit: number, sink: RecordSink) {
    this.limit = limit;
    this.sink = sink;
    this.carry = NO_BYTES; // allocated by the first record that spans chunks
  }

  get buffered(): number {
    return this.carryLen;
  }

  push(chunk: Buffer): void {
    let s = 0;
    let lf = chunk.indexOf(LF);
    if (this.carryLen > 0 || this.overflow > 0) {
      // finish the line that began in an earlier chunk
      const end = lf === -1 ? chunk.length : lf;
      this.keep(chunk, 0, end);
      if (lf === -1) return;
      this.emitCarried();
      s = lf + 1;
      lf = chunk.indexOf(LF, s);
    }
    if (this.sink.lines) {
      this.pushLines(chunk, s, lf);
      return;
    }
    while (lf !== -1) {
      if (lf - s > this.limit) {
        this.batch.flush(this.sink, chunk);
        this.sink.truncated(Buffer.from(chunk.subarray(s, s + this.limit)), lf - s);
      } else {
        if (this.batch.full) this.batch.flush(this.sink, chunk);
        this.batch.add(s, lf);
      }
      s = lf + 1;
      lf = chunk.indexOf(LF, s);
    }
    this.batch.flush(this.sink, chunk);
    if (s < chunk.length) this.keep(chunk, s, chunk.length);
  }

  /**
   * The sink stores whole runs of lines itself (the store's line kernel); this only cuts the
   * lines over the limit and keeps the rest. `lf` is the first LF at or after `s`, or -1.
   */
  private pushLines(chunk: Buffer, s: number, lf: number): void {
    const sink = this.sink;
    while (lf !== -1) {
      s = sink.lines!(chunk, s, chunk.length, this.limit);
      if (s >= chunk.length) return;
      lf = chunk.indexOf(LF, s);
      if (lf === -1) break;
      // it stopped before a complete line: one over the limit
      sink.truncated(Buffer.from(chunk.subarray(s, s + this.limit)), lf - s);
      s = lf + 1;
      lf = chunk.indexOf(LF, s);
    }
    if (s < chunk.length) this.keep(chunk, s, chunk.length);
  }

  end(): void {
    if (this.carryLen > 0 || this.overflow > 0) {
      this.sink.unterminated(this.carry.subarray(0, this.carryLen), this.carryLen + this.overflow);
      this.carryLen = 0;
      this.overflow = 0;
    }
  }

  /** Holds `chunk[s, e)` as part of the current line, up to the limit; counts the rest. */
  private keep(chunk: Buffer, s: number, e: number): void {
    const room = this.limit - this.carryLen;
    const take = Math.min(room, e - s);
    if (take > 0) {
      if (this.carryLen + take > this.carry.length) {
        const grown = Buffer.allocUnsafe(
          Math.min(this.limit, Math.max(MIN_CARRY, this.carry.length * 2, this.carryLen + take)),
        );
        this.carry.copy(grown, 0, 0, this.carryLen);
        this.carry = grown;
      }
      chunk.copy(this.carry, this.carryLen, s, s + take);
      this.carryLen += take;
    }
    this.overflow += e - s - take;
  }

  private emitCarried(): void {
    if (this.overflow > 0) {
      this.sink.truncated(Buffer.from(this.carry.subarray(0, this.carryLen)), this.carryLen + this.overflow);
    } else if (this.sink.lines && this.carryLen < this.carry.length) {
      // the line that spanned two reads, with its LF put back, through the same path as the
      // rest (one per socket read: the record-by-record path cost 3% of the collector's CPU)
      this.carry[this.carryLen] = LF;
      this.sink.lines(this.carry, 0, this.carryLen + 1, this.limit);
    } else {
      this.batch.add(0, this.carryLen);
      this.batch.flush(this.sink, this.carry);
    }
    this.carryLen = 0;
    this.overflow = 0;
  }
}
