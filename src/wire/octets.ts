// `octets`: RFC 6587 octet counting. Each record is `MSG-LEN SP MSG` where MSG-LEN is a decimal
// number without leading zeros (NONZERO-DIGIT *DIGIT). Anything else (a leading zero, a sign,
// a non-digit, more than 10 digits, a length over `maxDeclared`) is a protocol error: the
// sender is lying about the framing, so the session ends rather than guess. A record longer
// than the limit is kept cut and reported; its remaining bytes are skipped, not reframed.

import { MIN_CARRY, NO_BYTES } from "./carry.ts";
import { type Framer, FramingError, OffsetBatch, type RecordSink } from "./framer.ts";

const SP = 0x20;
const MAX_DIGITS = 10;

export class OctetFramer implements Framer {
  /** Spanning records are copied into the carry, every other goes to the sink during push. */
  readonly keepsNoChunk = true;
  private readonly limit: number;
  private readonly maxDeclared: number;
  private readonly sink: RecordSink;
  private readonly batch = new OffsetBatch();
  private lenDigits = 0;
  private declared = 0;
  /** Bytes of the current message still to come (0 while reading a length). */
  private remaining = 0;
  private inMessage = false;
  private carry: Buffer;
  private carryLen = 0;

  constructor(limit: number, sink: RecordSink, maxDeclared = 1024 * 1024 * 1024) {
    this.limit = limit;
    this.maxDeclared = maxDeclared;
    this.sink = sink;
    this.carry = NO_BYTES; // allocated by the first record that spans chunks
  }

  get buffered(): number {
    return this.carryLen;
  }

  push(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (!this.inMessage) {
        const c = chunk[i]!;
        if (c === SP && this.lenDigits > 0) {
          this.inMessage = true;
          this.remaining = this.declared;
          i++;
          continue;
        }
        if (c < 0x30 || c > 0x39 || (c === 0x30 && this.lenDigits === 0)) {
          this.batch.flush(this.sink, chunk);
          throw new FramingError(
            `bad octet count: byte 0x${c.toString(16).padStart(2, "0")} where a length digit was expected`,
          );
        }
        this.declared = this.declared * 10 + (c - 0x30);
        this.lenDigits++;
        if (this.lenDigits > MAX_DIGITS || this.declared > this.maxDeclared) {
          this.batch.flush(this.sink, chunk);
          throw new FramingError(`bad octet count: a length over ${this.maxDeclared} bytes`);
        }
        i++;
        continue;
      }
      // inside a message of `declared` bytes, `remaining` of them still to come
      const avail = Math.min(n - i, this.remaining);
      const whole = this.remaining === this.declared && avail === this.declared;
      if (whole && this.declared <= this.limit) {
        if (this.batch.full) this.batch.flush(this.sink, chunk);
        this.batch.add(i, i + avail);
      } else {
        this.keep(chunk, i, i + avail);
      }
      i += avail;
      this.remaining -= avail;
      if (this.remaining === 0) {
        if (!whole || this.declared > this.limit) {
          this.batch.flush(this.sink, chunk);
          this.emitCarried();
        }
        this.inMessage = false;
        this.declared = 0;
        this.lenDigits = 0;
      }
    }
    this.batch.flush(this.sink, chunk);
  }

  end(): void {
    if (this.inMessage || this.lenDigits > 0) {
      const got = this.declared - this.remaining;
      const what = this.inMessage
        ? `a message of ${this.declared} bytes ended after ${got}`
        : "the stream ended inside a length";
      this.carryLen = 0;
      throw new FramingError(`truncated octet-counted record: ${what}`);
    }
  }

  private keep(chunk: Buffer, s: number, e: number): void {
    const take = Math.min(this.limit - this.carryLen, e - s);
    if (take <= 0) return;
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

  private emitCarried(): void {
    if (this.declared > this.limit) {
      this.sink.truncated(Buffer.from(this.carry.subarray(0, this.carryLen)), this.declared);
    } else {
      this.batch.add(0, this.carryLen);
      this.batch.flush(this.sink, this.carry);
    }
    this.carryLen = 0;
  }
}
