// Syslog over TCP and TLS (RFC 6587, RFC 5425): octet counting and LF-terminated framing on the
// same connection, told apart per message. A frame whose first byte is a digit is octet-counted
// (`MSG-LEN SP MSG`), any other frame ends at LF. That is how rsyslog's imtcp decides
// (rsyslog/rsyslog runtime/tcps_sess.c, processDataRcvd(): state eAtStrtFram, "c >= '0' && c <=
// '9'" starts eInOctetCnt); so rsyslog, syslog-ng (RFC 5425 `syslog()`), logger --octet-count
// and plain LF senders all work on one listener.
//
// Where rsyslog keeps reading a broken count (a digit run not followed by SP, or the count 0)
// and so misframes the rest of the stream, this framer follows OpenBSD syslogd (openbsd/src
// usr.sbin/syslogd/syslogd.c octet_counting(), regress args-client-tcp-octet-badframe.pl): a
// digit run that is no valid MSG-LEN (a leading zero before more digits, or anything but SP
// after the digits) means the frame is LF-terminated, and the digits are its first bytes.
// "0 " is an empty octet-counted message, as OpenBSD reads it.
//
// Bounds (the CVE-2022-24903 class, rsyslog's octet-count overflow, cannot happen here): a
// count needs at most as many digits as `maxDeclared` has; one more digit is a FramingError,
// and so is a count over `maxDeclared`, before any byte of the message is read. A count over
// `limit` (and at most `maxDeclared`) is accepted but never buffered: its first `limit` bytes
// are kept and handed over cut (`truncated`, with the declared length), the rest is skipped as
// it streams by, exactly `declared` bytes, so framing stays in step. An LF-terminated line over
// `limit` is cut the same way, and the rest of it up to its LF skipped.
//
// Bytes are never changed: a CR before the LF stays in the record, a NUL is data (OpenBSD
// syslogd ends a message at NUL; rsyslog, by default, does not, and neither does this), an LF
// inside an octet-counted message is data. At the end of the stream, a last LF-terminated
// frame without its LF (or a digit run without SP) is handed over as `unterminated`; a stream
// that ends inside an octet-counted message hands over what arrived of it as `unterminated`,
// then end() throws FramingError, so the session records that the sender was cut short.

import { Carry } from "./carry.ts";
import { type Framer, FramingError, OffsetBatch, type RecordSink } from "./framer.ts";

const LF = 0x0a;
const SP = 0x20;
const ZERO = 0x30;
const NINE = 0x39;

// framer states (plain numbers: type stripping allows no enums)
const AT_START = 0;
const IN_COUNT = 1;
const IN_OCTETS = 2;
const IN_LINE = 3;

export class SyslogFramer implements Framer {
  /** Spanning records are copied into the carry, every other goes to the sink during push. */
  readonly keepsNoChunk = true;
  private readonly limit: number;
  private readonly maxDeclared: number;
  /** Digits the largest accepted MSG-LEN has; a longer run is refused. */
  private readonly maxDigits: number;
  private readonly sink: RecordSink;
  private readonly batch = new OffsetBatch();
  /** The frame that spans chunks: a digit run, a line or an octet-counted message. */
  private readonly carry: Carry;
  private state = AT_START;
  private declared = 0;
  private digits = 0;
  /** Bytes of the octet-counted message still to come. */
  private remaining = 0;

  /**
   * `limit`: the longest record kept whole; `maxDeclared`: the largest MSG-LEN accepted at all
   * (a larger one ends the session). Defaults as for `octets` (1 GiB).
   */
  constructor(limit: number, sink: RecordSink, maxDeclared = 1024 * 1024 * 1024) {
    this.limit = limit;
    this.maxDeclared = Math.max(maxDeclared, 1);
    this.maxDigits = String(this.maxDeclared).length;
    this.sink = sink;
    this.carry = new Carry(limit);
  }

  get buffered(): number {
    return this.carry.length;
  }

  push(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    // where the current frame began in this chunk; a frame begun in an earlier chunk is in the
    // carry and goes on at 0
    let s = 0;
    while (i < n) {
      const state = this.state;
      if (state === AT_START) {
        s = i;
        const c = chunk[i]!;
        if (c >= ZERO && c <= NINE) {
          this.state = IN_COUNT;
          this.declared = 0;
          this.digits = 0;
        } else {
          this.state = IN_LINE;
        }
      } else if (state === IN_LINE) {
        i = this.line(chunk, i, s);
      } else if (state === IN_OCTETS) {
        i = this.octets(chunk, i);
      } else {
        i = this.count(chunk, i, s);
      }
    }
    this.batch.flush(this.sink, chunk);
  }

  end(): void {
    const state = this.state;
    this.state = AT_START;
    const seen = this.carry.seen;
    if (state === IN_OCTETS) {
      const got = this.declared - this.remaining;
      if (seen > 0) this.sink.unterminated(this.carry.view(), got);
      this.carry.clear();
      throw new FramingError(
        `truncated octet-counted record: a message of ${this.declared} bytes ended after ${got}`,
      );
    }
    if (seen > 0) this.sink.unterminated(this.carry.view(), seen);
    this.carry.clear();
  }

  /** Reads MSG-LEN digits from `i`; returns where to go on. */
  private count(chunk: Buffer, i: number, s: number): number {
    const n = chunk.length;
    while (i < n) {
      const c = chunk[i]!;
      if (c >= ZERO && c <= NINE) {
        if (this.digits === 1 && this.declared === 0) {
          // "0" then more digits: no MSG-LEN has a leading zero, so this frame is a line
          this.state = IN_LINE;
          return i;
        }
        this.declared = this.declared * 10 + (c - ZERO);
        if (++this.digits > this.maxDigits) {
          this.batch.flush(this.sink, chunk);
          throw new FramingError(`bad octet count: more than ${this.maxDigits} digits`);
        }
        i++;
        continue;
      }
      if (c !== SP) {
        // digits not followed by SP are no MSG-LEN: the frame is a line that begins with them
        this.state = IN_LINE;
        return i;
      }
      if (this.declared > this.maxDeclared) {
        this.batch.flush(this.sink, chunk);
        throw new FramingError(`bad octet count: a length over ${this.maxDeclared} bytes`);
      }
      this.carry.clear(); // digits held across chunks are framing, not data
      i++;
      if (this.declared === 0) {
        this.addRecord(chunk, i, i);
        this.state = AT_START;
      } else {
        this.remaining = this.declared;
        this.state = IN_OCTETS;
      }
      return i;
    }
    this.carry.add(chunk, s, n);
    return n;
  }

  /** Reads an LF-terminated frame that began at `s` (or in the carry) from `i`. */
  private line(chunk: Buffer, i: number, s: number): number {
    const lf = chunk.indexOf(LF, i);
    if (lf === -1) {
      this.carry.add(chunk, s, chunk.length);
      return chunk.length;
    }
    if (this.carry.seen > 0) {
      this.carry.add(chunk, s, lf);
      this.emitCarried(chunk);
    } else if (lf - s > this.limit) {
      this.batch.flush(this.sink, chunk);
      this.sink.truncated(Buffer.from(chunk.subarray(s, s + this.limit)), lf - s);
    } else {
      this.addRecord(chunk, s, lf);
    }
    this.state = AT_START;
    return lf + 1;
  }

  /** Reads the bytes of an octet-counted message from `i`. */
  private octets(chunk: Buffer, i: number): number {
    const avail = Math.min(chunk.length - i, this.remaining);
    const whole = this.remaining === this.declared && avail === this.declared;
    if (whole && this.declared <= this.limit) {
      this.addRecord(chunk, i, i + avail);
    } else if (whole) {
      this.batch.flush(this.sink, chunk);
      this.sink.truncated(Buffer.from(chunk.subarray(i, i + this.limit)), this.declared);
    } else {
      this.carry.add(chunk, i, i + avail);
    }
    this.remaining -= avail;
    if (this.remaining === 0) {
      if (!whole) this.emitCarried(chunk);
      this.state = AT_START;
    }
    return i + avail;
  }

  private addRecord(chunk: Buffer, s: number, e: number): void {
    if (this.batch.full) this.batch.flush(this.sink, chunk);
    this.batch.add(s, e);
  }

  /** Hands over the record held in the carry, after the records of `chunk` before it. */
  private emitCarried(chunk: Buffer): void {
    this.batch.flush(this.sink, chunk);
    if (this.carry.overflow > 0) {
      this.sink.truncated(Buffer.from(this.carry.view()), this.carry.seen);
    } else {
      this.batch.add(0, this.carry.length);
      this.batch.flush(this.sink, this.carry.view());
    }
    this.carry.clear();
  }
}
