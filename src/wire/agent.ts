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
import { writeU64 } from "./u64.ts";

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
/** A gap frame's payload length. */
export const GAP_LEN = 32;
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

// ---- encoders (the sender's side, and the collector's replies) ----
// The collector's decoder of what the sender sends is `agent-decoder.ts`.

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

/** An 'E' frame's JSON; anything but a JSON object is a broken frame, never another exception. */
function parseAgentEnd(p: Buffer): AgentEnd {
  let end: unknown;
  try {
    end = JSON.parse(p.toString());
  } catch {
    end = null;
  }
  if (typeof end !== "object" || end === null)
    throw new FramingError("the collector sent a malformed end frame");
  return end as AgentEnd;
}

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
      if (type === T_END) this.onReply({ type: "end", end: parseAgentEnd(p) });
      else this.onReply({ type: type === T_WELCOME ? "welcome" : "ack", seq: Number(p.readBigUInt64BE(0)) });
      buf = buf.subarray(5 + len);
    }
    this.pending = Buffer.from(buf);
  }
}
