// `agent` decoding on the collector's side: the sender's frames (H, R, U, G; `agent.ts` has the
// protocol) turned into calls on an AgentSink, chunk by chunk, whatever the chunking. Apart from
// `agent.ts` because it is the one hot path of the protocol: a streaming state machine that
// hands out whole records as views into the chunk it was given and copies only a record that
// spans chunks, up to the limit (past it a record is cut, its real length reported).

import {
  type AgentGap,
  GAP_LEN,
  type Hello,
  MAX_HELLO,
  parseHello,
  T_GAP,
  T_HELLO,
  T_RECORD,
  T_UNTERMINATED,
} from "./agent.ts";
import { FramingError } from "./framer.ts";
import { readU64 } from "./u64.ts";

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
    // only DATA has record bytes under way; elsewhere dataLen is the last record's (or the next one's)
    const partial = this.state === DATA ? this.dataLen - this.dataLeft : this.headLen;
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
