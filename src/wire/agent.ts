// `agent`: the framed protocol `logward ship` speaks (docs/PROTOCOL.md). Every frame is
//
//   <type: 1 byte> <length: 4 bytes, big-endian> <payload: length bytes>
//
// sender -> collector
//   'H' hello, first and once: "logward-agent 1 <stream> <spool-id>" (ASCII, at most 512 bytes).
//       The spool id names the sender's numbering: a sender that loses its spool takes a new one.
//   'R' record: <seq: 8 bytes BE> <the record's bytes>. seq counts from 1 in that spool.
//   'U' unterminated record: as 'R', for a record its source did not end with LF (a file's
//       last line): stored with a `!nolf` so that `show --raw` gives back no LF after it.
//   'G' gap: <seq: 8><dropped: 8><first µs: 8><last µs: 8>: the sender dropped the `dropped`
//       records it had numbered seq-dropped+1 .. seq (spool full), received between those times
//       of its own clock. dropped is at least 1 and at most seq.
// collector -> sender
//   'W' welcome, once, right after the hello: <seq: 8>, the last seq of this spool that is
//       durably stored (0: none). The sender continues with seq + 1.
//   'A' ack: <seq: 8>: everything up to seq is durable; the sender may forget it.
//   'E' end: JSON {"ok": bool, "records": n, "message": s}, then the channel closes.
//
// A record longer than the limit is kept cut to its first `limit` bytes, with its real length;
// the rest is skipped as it streams by, never buffered.

import { FramingError } from "./framer.ts";

export const AGENT_MAGIC = "logward-agent";
export const AGENT_VERSION = 1;
export const T_HELLO = 0x48; // H
export const T_RECORD = 0x52; // R
export const T_UNTERMINATED = 0x55; // U
export const T_GAP = 0x47; // G
export const T_WELCOME = 0x57; // W
export const T_ACK = 0x41; // A
export const T_END = 0x45; // E
export const MAX_HELLO = 512;
const GAP_LEN = 32;
const SPOOL_RE = /^[A-Za-z0-9_-]{1,64}$/;

export interface Hello {
  stream: string;
  spool: string;
}

export interface AgentGap {
  seq: number;
  dropped: number;
  firstUs: number;
  lastUs: number;
}

export interface AgentSink {
  hello(h: Hello): void;
  /** `count` whole records: record k is `buf[offsets[2k], offsets[2k+1])` with seq `seqs[k]`. */
  records(buf: Buffer, offsets: Uint32Array, seqs: Float64Array, count: number): void;
  /** One record over the limit: its first bytes, its real length. */
  truncated(seq: number, kept: Buffer, fullLength: number): void;
  /** One record (a 'U' frame) its source did not end with LF: its bytes (cut above the limit), its real length. */
  unterminated(seq: number, kept: Buffer, fullLength: number): void;
  gap(g: AgentGap): void;
}

export function isValidSpoolId(id: string): boolean {
  return SPOOL_RE.test(id);
}

export function parseHello(text: string): Hello {
  const parts = text.split(" ");
  if (parts[0] !== AGENT_MAGIC || parts.length !== 4) {
    throw new FramingError("the first frame is not a logward-agent hello");
  }
  if (parts[1] !== String(AGENT_VERSION))
    throw new FramingError(`unsupported agent protocol version '${parts[1]!.slice(0, 16)}'`);
  if (!isValidSpoolId(parts[3]!)) throw new FramingError("the hello's spool id is not valid");
  return { stream: parts[2]!, spool: parts[3]! };
}

/**
 * An unsigned 64-bit big-endian integer in the safe-integer range, from two 32-bit halves: no
 * BigInt per record on the hot path. Returns -1 above 2^53-1.
 */
export function readU64(buf: Buffer, at: number): number {
  const hi = buf.readUInt32BE(at);
  if (hi > 0x1fffff) return -1;
  return hi * 0x1_0000_0000 + buf.readUInt32BE(at + 4);
}

/** Writes a non-negative safe integer as an unsigned 64-bit big-endian value. */
export function writeU64(buf: Buffer, n: number, at: number): void {
  buf.writeUInt32BE(Math.floor(n / 0x1_0000_0000), at);
  buf.writeUInt32BE(n >>> 0, at + 4);
}

function readSeq(buf: Buffer, at: number): number {
  const v = readU64(buf, at);
  if (v < 1) {
    throw new FramingError(`sequence number ${buf.readBigUInt64BE(at)} is out of range (1 to 2^53-1)`);
  }
  return v;
}

const HEAD = 0; // type + length (5 bytes)
const SMALL = 1; // the payload of H or G, gathered whole
const SEQ = 2; // the 8-byte seq of an R frame
const DATA = 3; // the record bytes of an R frame

const BATCH = 1024;

export class AgentDecoder {
  private readonly limit: number;
  private readonly sink: AgentSink;
  private state = HEAD;
  private readonly head = Buffer.alloc(MAX_HELLO);
  private headLen = 0;
  private need = 5;
  private type = 0;
  private sawHello = false;
  private seq = 0;
  /** Bytes of the current record still to come, and the part of it kept across chunks. */
  private dataLeft = 0;
  private dataLen = 0;
  private carry: Buffer | null = null;
  private carryLen = 0;
  private readonly offsets = new Uint32Array(BATCH * 2);
  private readonly seqs = new Float64Array(BATCH);
  private count = 0;

  constructor(limit: number, sink: AgentSink) {
    this.limit = limit;
    this.sink = sink;
  }

  get buffered(): number {
    return this.carryLen + this.headLen;
  }

  /** True between frames: nothing of a frame is pending. */
  get atFrameBoundary(): boolean {
    return this.state === HEAD && this.headLen === 0;
  }

  push(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    try {
      while (i < n) {
        if (this.state === DATA) {
          i = this.data(chunk, i);
          continue;
        }
        // fast path: a whole small record inside this chunk, handed out as a view
        if (this.state === HEAD && this.headLen === 0 && n - i >= 13 && chunk[i] === T_RECORD) {
          const len = chunk.readUInt32BE(i + 1);
          if (len >= 8 && len - 8 <= this.limit && n - i >= 5 + len) {
            if (!this.sawHello) throw new FramingError("the first frame is not a logward-agent hello");
            const seq = readSeq(chunk, i + 5);
            this.add(i + 13, i + 5 + len, seq, chunk);
            i += 5 + len;
            continue;
          }
        }
        const take = Math.min(this.need - this.headLen, n - i);
        chunk.copy(this.head, this.headLen, i, i + take);
        this.headLen += take;
        i += take;
        if (this.headLen === this.need) this.gathered(chunk);
      }
    } finally {
      this.flush(chunk);
    }
  }

  /** The channel ended: a partly received frame is not a record (the sender resends it). */
  end(): number {
    const partial = this.state === HEAD ? this.headLen : this.headLen + this.dataLen - this.dataLeft;
    this.state = HEAD;
    this.headLen = 0;
    this.need = 5;
    this.carryLen = 0;
    return partial;
  }

  private gathered(chunk: Buffer): void {
    const h = this.head;
    if (this.state === HEAD) {
      this.type = h[0]!;
      const len = h.readUInt32BE(1);
      this.headLen = 0;
      if (!this.sawHello && this.type !== T_HELLO) {
        throw new FramingError("the first frame is not a logward-agent hello");
      }
      if (this.type === T_HELLO) {
        if (this.sawHello) throw new FramingError("a second hello in one session");
        if (len > MAX_HELLO) throw new FramingError(`the hello is longer than ${MAX_HELLO} bytes`);
        this.enter(SMALL, len);
      } else if (this.type === T_GAP) {
        if (len !== GAP_LEN) throw new FramingError(`a gap frame must be ${GAP_LEN} bytes, not ${len}`);
        this.enter(SMALL, len);
      } else if (this.type === T_RECORD || this.type === T_UNTERMINATED) {
        if (len < 8) throw new FramingError("a record frame shorter than its sequence number");
        this.dataLen = len - 8;
        this.enter(SEQ, 8);
      } else {
        throw new FramingError(`unknown frame type 0x${this.type.toString(16).padStart(2, "0")}`);
      }
      return;
    }
    if (this.state === SMALL) {
      this.flush(chunk);
      if (this.type === T_HELLO) {
        this.sawHello = true;
        this.sink.hello(parseHello(h.toString("latin1", 0, this.need)));
      } else {
        const g = {
          seq: readSeq(h, 0),
          dropped: Number(h.readBigUInt64BE(8)),
          firstUs: Number(h.readBigInt64BE(16)),
          lastUs: Number(h.readBigInt64BE(24)),
        };
        if (!Number.isSafeInteger(g.dropped) || g.dropped < 1 || g.dropped > g.seq)
          throw new FramingError("a gap's dropped count is out of range (1 to its seq)");
        this.sink.gap(g);
      }
      this.enter(HEAD, 5);
      return;
    }
    // SEQ
    this.seq = readSeq(h, 0);
    this.headLen = 0;
    this.dataLeft = this.dataLen;
    this.carryLen = 0;
    this.state = DATA;
    if (this.dataLeft === 0) this.finishData(chunk);
  }

  private enter(state: number, need: number): void {
    this.state = state;
    this.need = need;
    this.headLen = 0;
    if (state === SMALL && need === 0) this.gathered(Buffer.alloc(0));
  }

  /** Record bytes: a view when the record is whole in this chunk, else copied up to the limit. */
  private data(chunk: Buffer, i: number): number {
    const take = Math.min(this.dataLeft, chunk.length - i);
    if (take === this.dataLen && this.dataLen <= this.limit) {
      if (this.type === T_UNTERMINATED) {
        this.flush(chunk);
        this.sink.unterminated(this.seq, chunk.subarray(i, i + take), take);
      } else this.add(i, i + take, this.seq, chunk);
      this.dataLeft = 0;
      this.enter(HEAD, 5);
      return i + take;
    }
    const room = Math.min(this.limit, this.dataLen) - this.carryLen;
    const keep = Math.min(room, take);
    if (keep > 0) {
      if (!this.carry || this.carry.length < Math.min(this.limit, this.dataLen)) {
        const grown = Buffer.allocUnsafe(Math.min(this.limit, this.dataLen));
        if (this.carry) this.carry.copy(grown, 0, 0, this.carryLen);
        this.carry = grown;
      }
      chunk.copy(this.carry, this.carryLen, i, i + keep);
      this.carryLen += keep;
    }
    this.dataLeft -= take;
    if (this.dataLeft === 0) this.finishData(chunk);
    return i + take;
  }

  private finishData(chunk: Buffer): void {
    const kept = this.carry ? this.carry.subarray(0, this.carryLen) : Buffer.alloc(0);
    if (this.type === T_UNTERMINATED) {
      this.flush(chunk);
      this.sink.unterminated(this.seq, kept, this.dataLen);
    } else if (this.dataLen > this.limit) {
      this.flush(chunk);
      this.sink.truncated(this.seq, Buffer.from(kept), this.dataLen);
    } else {
      this.flush(chunk);
      this.offsets[0] = 0;
      this.offsets[1] = this.carryLen;
      this.seqs[0] = this.seq;
      this.sink.records(kept, this.offsets, this.seqs, 1);
    }
    this.carryLen = 0;
    this.enter(HEAD, 5);
  }

  private add(s: number, e: number, seq: number, chunk: Buffer): void {
    if (this.count === BATCH) this.flush(chunk);
    this.offsets[this.count * 2] = s;
    this.offsets[this.count * 2 + 1] = e;
    this.seqs[this.count] = seq;
    this.count++;
  }

  private flush(chunk: Buffer): void {
    if (this.count === 0) return;
    const n = this.count;
    this.count = 0;
    this.sink.records(chunk, this.offsets, this.seqs, n);
  }
}

// ---- encoders (the sender's side, and the collector's replies) ----

function frame(type: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length);
  out[0] = type;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, 5);
  return out;
}

function seqBytes(seq: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  writeU64(b, seq, 0);
  return b;
}

export function encodeHello(h: Hello): Buffer {
  return frame(T_HELLO, Buffer.from(`${AGENT_MAGIC} ${AGENT_VERSION} ${h.stream} ${h.spool}`, "latin1"));
}

/** An 'R' frame, or a 'U' frame for a record its source did not end with LF. */
export function encodeRecord(seq: number, data: Uint8Array, unterminated = false): Buffer {
  const out = Buffer.allocUnsafe(13 + data.length);
  out[0] = unterminated ? T_UNTERMINATED : T_RECORD;
  out.writeUInt32BE(8 + data.length, 1);
  writeU64(out, seq, 5);
  out.set(data, 13);
  return out;
}

export function encodeGap(g: AgentGap): Buffer {
  const p = Buffer.allocUnsafe(GAP_LEN);
  p.writeBigUInt64BE(BigInt(g.seq), 0);
  p.writeBigUInt64BE(BigInt(g.dropped), 8);
  p.writeBigInt64BE(BigInt(g.firstUs), 16);
  p.writeBigInt64BE(BigInt(g.lastUs), 24);
  return frame(T_GAP, p);
}

export function encodeWelcome(seq: number): Buffer {
  return frame(T_WELCOME, seqBytes(seq));
}

export function encodeAck(seq: number): Buffer {
  return frame(T_ACK, seqBytes(seq));
}

export interface AgentEnd {
  ok: boolean;
  records: number;
  message: string;
}

export function encodeAgentEnd(end: AgentEnd): Buffer {
  return frame(T_END, Buffer.from(JSON.stringify(end)));
}

export type CollectorReply =
  | { type: "welcome"; seq: number }
  | { type: "ack"; seq: number }
  | { type: "end"; end: AgentEnd };

/** The sender's decoder for the collector's replies (W, A, E); bounded like everything else. */
export class ReplyDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private readonly onReply: (r: CollectorReply) => void;

  constructor(onReply: (r: CollectorReply) => void) {
    this.onReply = onReply;
  }

  push(chunk: Buffer): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (buf.length >= 5) {
      const type = buf[0]!;
      const len = buf.readUInt32BE(1);
      const fixed = type === T_WELCOME || type === T_ACK;
      if ((fixed && len !== 8) || (type === T_END && len > 64 * 1024) || (!fixed && type !== T_END)) {
        throw new FramingError("the collector sent a malformed agent frame");
      }
      if (buf.length < 5 + len) break;
      const p = buf.subarray(5, 5 + len);
      if (type === T_END) this.onReply({ type: "end", end: JSON.parse(p.toString()) as AgentEnd });
      else this.onReply({ type: type === T_WELCOME ? "welcome" : "ack", seq: Number(p.readBigUInt64BE(0)) });
      buf = buf.subarray(5 + len);
    }
    this.pending = Buffer.from(buf);
  }
}
