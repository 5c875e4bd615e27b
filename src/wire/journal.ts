// `journal`: the systemd journal export format (`journalctl -o export`), one entry per record.
//
//   text field    NAME=value LF
//   binary field  NAME LF <length: 8 bytes, little-endian> <length bytes> LF
//   entry end     an empty line (LF at the start of a line)
//
// A record's payload is the entry exactly as it came, fields and their LFs, without the empty
// line that ends it: `logward show --raw` of a journal stream is again a valid export stream.
// The entry's `__CURSOR` (a text field) becomes the record's resume reference.
//
// Resume: a session may open with the request line "?resume" LF (before any field). The
// collector then answers "cursor=<last durable cursor>" LF, or "cursor=" LF when it has none.
// Without the request the collector writes nothing back.
//
// Limits: an entry longer than the limit is kept cut to its first `limit` bytes and reported
// with its real length; the framer keeps parsing its fields to find where it ends, so it is
// never split into more records. A binary field whose length does not end at an LF, or a
// length that cannot be a real one, is a protocol error. An entry without its ending empty
// line when the channel closes is incomplete: it is not a record (its cursor would tell the
// sender to resume after an entry never stored whole); the sender sends it again on resume.

import { FramingError } from "./framer.ts";

const LF = 0x0a;
const EQ = 0x3d;

export const RESUME_REQUEST = Buffer.from("?resume\n", "latin1");
const CURSOR_FIELD = Buffer.from("__CURSOR=", "latin1");
/** Longest cursor kept as a resume reference (the store's limit on references). */
const MAX_CURSOR = 256;
/** Bytes of a field line kept to recognise `__CURSOR` and to name a field in an error. */
const LINE_HEAD = CURSOR_FIELD.length + MAX_CURSOR + 1;
/** journald refuses fields over 768 MiB; a longer declared length is not an export stream. */
export const MAX_BINARY_FIELD = 768 * 1024 * 1024;

export interface JournalSink {
  /**
   * One whole entry. `payload` is its first bytes (all of it unless `fullLength` is larger);
   * valid only during the call. `cursor` is its `__CURSOR` if that is a usable reference.
   */
  entry(payload: Buffer, fullLength: number, cursor: string | undefined): void;
  /** The sender asked where to resume (the "?resume" line). */
  resumeRequested(): void;
}

const PREAMBLE = 0;
const LINE = 1;
const BIN_LEN = 2;
const BIN_DATA = 3;
const BIN_LF = 4;

export class JournalFramer {
  private readonly limit: number;
  private readonly sink: JournalSink;
  private state = PREAMBLE;
  private preambleLen = 0;
  /** The entry's first bytes, up to the limit. */
  private kept: Buffer;
  private keptLen = 0;
  /** All bytes of the entry so far, kept or not. */
  private entryLen = 0;
  private cursor: string | undefined;
  /** The current field line: its first bytes, its length, whether it has '='. */
  private readonly lineHead = Buffer.allocUnsafe(LINE_HEAD);
  private lineLen = 0;
  private lineHasEq = false;
  private readonly lenBytes = Buffer.alloc(8);
  private lenGot = 0;
  private binLeft = 0;
  /** Bytes of entries the channel's end cut off (for the session's accounting). */
  incompleteBytes = 0;

  constructor(limit: number, sink: JournalSink) {
    this.limit = limit;
    this.sink = sink;
    this.kept = Buffer.allocUnsafe(Math.min(limit, 16 * 1024));
  }

  get buffered(): number {
    return this.keptLen;
  }

  push(chunk: Buffer): void {
    let i = 0;
    if (this.state === PREAMBLE) {
      while (i < chunk.length && chunk[i] === RESUME_REQUEST[this.preambleLen]) {
        i++;
        if (++this.preambleLen === RESUME_REQUEST.length) {
          this.state = LINE;
          this.sink.resumeRequested();
          break;
        }
      }
      if (this.state === PREAMBLE) {
        if (i === chunk.length) return; // could still be the request
        this.leavePreamble();
      }
    }
    this.parse(chunk, i);
  }

  /** The channel ended: an entry without its ending empty line is dropped and counted. */
  end(): void {
    if (this.state === PREAMBLE) this.leavePreamble();
    if (this.entryLen > 0 || this.lineLen > 0) this.incompleteBytes += this.entryLen;
    this.resetEntry();
    this.state = LINE;
  }

  /** What looked like the start of the request was data: parse it as such. */
  private leavePreamble(): void {
    this.state = LINE;
    const held = RESUME_REQUEST.subarray(0, this.preambleLen);
    this.preambleLen = 0;
    if (held.length > 0) this.parse(held, 0);
  }

  private parse(buf: Buffer, start: number): void {
    let i = start;
    const n = buf.length;
    while (i < n) {
      switch (this.state) {
        case LINE: {
          if (this.lineLen === 0 && buf[i] === LF) {
            this.endEntry();
            i++;
            break;
          }
          const lf = buf.indexOf(LF, i);
          const e = lf === -1 ? n : lf;
          if (!this.lineHasEq) {
            const eq = buf.indexOf(EQ, i);
            this.lineHasEq = eq !== -1 && eq < e;
          }
          this.addLine(buf, i, e);
          this.keep(buf, i, e);
          if (lf === -1) return;
          this.keep(buf, lf, lf + 1);
          i = lf + 1;
          this.endLine();
          break;
        }
        case BIN_LEN: {
          const take = Math.min(8 - this.lenGot, n - i);
          buf.copy(this.lenBytes, this.lenGot, i, i + take);
          this.keep(buf, i, i + take);
          this.lenGot += take;
          i += take;
          if (this.lenGot === 8) {
            const length = this.lenBytes.readBigUInt64LE(0);
            if (length > BigInt(MAX_BINARY_FIELD)) {
              throw new FramingError(
                `binary field ${this.fieldName()} declares ${length} bytes, more than a journal field can hold`,
              );
            }
            this.binLeft = Number(length);
            this.state = this.binLeft === 0 ? BIN_LF : BIN_DATA;
          }
          break;
        }
        case BIN_DATA: {
          const take = Math.min(this.binLeft, n - i);
          this.keep(buf, i, i + take);
          this.binLeft -= take;
          i += take;
          if (this.binLeft === 0) this.state = BIN_LF;
          break;
        }
        case BIN_LF: {
          if (buf[i] !== LF) {
            throw new FramingError(
              `binary field ${this.fieldName()} is not followed by a line feed: its length is wrong`,
            );
          }
          this.keep(buf, i, i + 1);
          i++;
          this.lineLen = 0;
          this.state = LINE;
          break;
        }
      }
    }
  }

  /** A field line ended at its LF: a text field, or the name line of a binary field. */
  private endLine(): void {
    if (this.lineHasEq) {
      const head = this.lineHead;
      const len = this.lineLen;
      if (len >= CURSOR_FIELD.length && head.compare(CURSOR_FIELD, 0, 9, 0, 9) === 0) {
        // the last __CURSOR counts; one that cannot be a reference leaves the entry without one
        const value = len <= LINE_HEAD ? head.toString("latin1", CURSOR_FIELD.length, len) : "";
        this.cursor = /^[\x21-\x7e]{1,256}$/.test(value) ? value : undefined;
      }
      this.lineLen = 0;
      this.lineHasEq = false;
    } else {
      this.state = BIN_LEN;
      this.lenGot = 0;
      this.lineHasEq = false;
      // lineLen/lineHead keep the name for error messages until the field ends
    }
  }

  private endEntry(): void {
    if (this.entryLen > 0) {
      this.sink.entry(this.kept.subarray(0, this.keptLen), this.entryLen, this.cursor);
    }
    this.resetEntry();
  }

  private resetEntry(): void {
    this.keptLen = 0;
    this.entryLen = 0;
    this.cursor = undefined;
    this.lineLen = 0;
    this.lineHasEq = false;
  }

  private addLine(buf: Buffer, s: number, e: number): void {
    const room = LINE_HEAD - this.lineLen;
    if (room > 0) buf.copy(this.lineHead, this.lineLen, s, s + Math.min(room, e - s));
    this.lineLen += e - s;
  }

  private fieldName(): string {
    const name = this.lineHead.toString("latin1", 0, Math.min(this.lineLen, 64));
    return `'${name.replace(/[^\x21-\x7e]/g, "?")}'`;
  }

  /** Holds `buf[s, e)` as part of the entry, up to the limit; counts the rest. */
  private keep(buf: Buffer, s: number, e: number): void {
    const take = Math.min(this.limit - this.keptLen, e - s);
    if (take > 0) {
      if (this.keptLen + take > this.kept.length) {
        const grown = Buffer.allocUnsafe(
          Math.min(this.limit, Math.max(this.kept.length * 2, this.keptLen + take)),
        );
        this.kept.copy(grown, 0, 0, this.keptLen);
        this.kept = grown;
      }
      buf.copy(this.kept, this.keptLen, s, s + take);
      this.keptLen += take;
    }
    this.entryLen += e - s;
  }
}

/** The collector's answer to "?resume": the cursor to continue after, or none. */
export function encodeResumeReply(cursor: string | null): Buffer {
  return Buffer.from(`cursor=${cursor ?? ""}\n`, "latin1");
}
