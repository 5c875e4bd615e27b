// The relay protocol between `logward ingest` (run by qrexec per call) and `logward serve`,
// over the daemon's local Unix socket. docs/PROTOCOL.md has byte-level examples.
//
//   ingest -> serve:  "logward-relay 1 <format> <origin> <stream>\n", then the sender's bytes
//                     as they come; the end of the sender's data is a half-close.
//   serve -> ingest:  frames of [type: 1 byte][length: 4 bytes, big-endian][payload]:
//                     'D' bytes to pass to the sender (stdout), only in formats where the
//                         sender asked for them (resume positions, acknowledgements);
//                     'E' the end: JSON {"ok": bool, "records": n, "bytes": n, "message": s},
//                         sent after everything received is durable, then the socket closes.

import { FramingError, parseJsonPayload } from "./framer.ts";

export const RELAY_MAGIC = "logward-relay";
export const RELAY_VERSION = 1;
export const FORMATS = ["lines", "octets", "journal", "agent", "blob"] as const;
export type Format = (typeof FORMATS)[number];
export const MAX_HEADER_BYTES = 512;
export const MAX_FRAME_BYTES = 1024 * 1024;

export const FRAME_DATA = 0x44; // 'D'
export const FRAME_END = 0x45; // 'E'

export interface RelayHeader {
  format: Format;
  origin: string;
  stream: string;
}

export interface RelayEnd {
  ok: boolean;
  records: number;
  bytes: number;
  message: string;
}

/**
 * A collector's local socket (`[[collector.local]]`) names the origin itself, so its header
 * has none: "logward-local 1 <format> <stream>\n". Replies are relay frames.
 */
export const LOCAL_MAGIC = "logward-local";

export function encodeLocalHeader(format: Format, stream: string): Buffer {
  return Buffer.from(`${LOCAL_MAGIC} ${RELAY_VERSION} ${format} ${stream}\n`, "latin1");
}

/** Parses a local socket's header line (without its LF). */
export function parseLocalHeader(line: string): { format: Format; stream: string } {
  const parts = line.split(" ");
  if (parts.length !== 4 || parts[0] !== LOCAL_MAGIC) throw new FramingError("not a logward-local header");
  if (parts[1] !== String(RELAY_VERSION)) throw new FramingError(`unsupported local version '${parts[1]}'`);
  const format = parts[2] as Format;
  if (!FORMATS.includes(format)) throw new FramingError(`unknown format '${parts[2]}'`);
  return { format, stream: parts[3]! };
}

export function encodeRelayHeader(h: RelayHeader): Buffer {
  return Buffer.from(`${RELAY_MAGIC} ${RELAY_VERSION} ${h.format} ${h.origin} ${h.stream}\n`, "latin1");
}

/** Parses the header line (without its LF). Names are checked by the caller. */
export function parseRelayHeader(line: string): RelayHeader {
  const parts = line.split(" ");
  if (parts.length !== 5 || parts[0] !== RELAY_MAGIC) throw new FramingError("not a logward relay header");
  if (parts[1] !== String(RELAY_VERSION)) throw new FramingError(`unsupported relay version '${parts[1]}'`);
  const format = parts[2] as Format;
  if (!FORMATS.includes(format)) throw new FramingError(`unknown format '${parts[2]}'`);
  return { format, origin: parts[3]!, stream: parts[4]! };
}

export function encodeFrame(type: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length);
  out[0] = type;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, 5);
  return out;
}

export function encodeEnd(end: RelayEnd): Buffer {
  return encodeFrame(FRAME_END, Buffer.from(JSON.stringify(end)));
}

/** The collector's last word, checked: anything but a well-formed end is a FramingError. */
export function decodeEnd(payload: Uint8Array): RelayEnd {
  const v = parseJsonPayload(payload, "the end frame");
  const e = v as Partial<RelayEnd> | null;
  if (
    typeof e !== "object" ||
    e === null ||
    typeof e.ok !== "boolean" ||
    !Number.isSafeInteger(e.records) ||
    !Number.isSafeInteger(e.bytes) ||
    typeof e.message !== "string"
  )
    throw new FramingError("the end frame is not {ok, records, bytes, message}");
  return { ok: e.ok, records: e.records!, bytes: e.bytes!, message: e.message };
}

/**
 * `blob` over the relay (and a local socket) is framed, so that its end is explicit: a relay
 * that ends without the end frame was cut off (ingest killed, its connection lost) and its
 * object is not stored. ingest -> serve after the header: frames of
 * [type: 1][length: 4 BE][payload]: 'D' 0x44 bytes of the object (1 to MAX_FRAME_BYTES), then
 * 'E' 0x45 once, with 8 bytes: the object's total length, big-endian. Nothing may follow it.
 */
export function encodeBlobEnd(total: number): Buffer {
  const p = Buffer.alloc(8);
  p.writeBigUInt64BE(BigInt(total));
  return encodeFrame(FRAME_END, p);
}

/**
 * Parses a framed blob; `onData` gets views into the chunks, never a copy. Only a frame header
 * cut by a chunk's end (at most 12 bytes) is carried over.
 */
export class BlobFrameDecoder {
  /** The first bytes of a frame header that a chunk cut off. */
  private head: Buffer = NO_BYTES;
  /** Bytes of the current data frame still to come. */
  private dataLeft = 0;
  private readonly onData: (bytes: Buffer) => void;
  /** The total the end frame announced, once it came. */
  endTotal: number | null = null;
  private received = 0;

  constructor(onData: (bytes: Buffer) => void) {
    this.onData = onData;
  }

  push(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.endTotal !== null) throw new FramingError("bytes after the blob's end frame");
      if (this.dataLeft > 0) {
        const take = Math.min(this.dataLeft, chunk.length - i);
        this.dataLeft -= take;
        this.received += take;
        this.onData(chunk.subarray(i, i + take));
        i += take;
        continue;
      }
      // a header: 5 bytes, 13 with the end frame's total
      const carried = this.head.length;
      const h = carried
        ? Buffer.concat([this.head, chunk.subarray(i, i + BLOB_END_BYTES - carried)])
        : chunk.subarray(i, i + BLOB_END_BYTES);
      if (h.length < 5) {
        this.head = Buffer.from(h);
        return;
      }
      const type = h[0]!;
      const len = h.readUInt32BE(1);
      if (type === FRAME_DATA) {
        if (len === 0 || len > MAX_FRAME_BYTES) throw new FramingError(`a blob data frame of ${len} bytes`);
        this.head = NO_BYTES;
        this.dataLeft = len;
        i += 5 - carried;
        continue;
      }
      if (type !== FRAME_END || len !== 8) throw new FramingError("a malformed blob frame");
      if (h.length < BLOB_END_BYTES) {
        this.head = Buffer.from(h);
        return;
      }
      const total = h.readBigUInt64BE(5);
      if (total !== BigInt(this.received))
        throw new FramingError(`the end frame says ${total} bytes, ${this.received} came`);
      this.head = NO_BYTES;
      this.endTotal = this.received;
      i += BLOB_END_BYTES - carried;
    }
  }
}

const NO_BYTES = Buffer.alloc(0);
/** A blob's end frame: its header and the 8-byte total. */
const BLOB_END_BYTES = 13;

/** Splits the daemon's replies into frames; copies only a frame that spans chunks. */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private readonly onFrame: (type: number, payload: Buffer) => void;

  constructor(onFrame: (type: number, payload: Buffer) => void) {
    this.onFrame = onFrame;
  }

  push(chunk: Buffer): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (buf.length >= 5) {
      const type = buf[0]!;
      const len = buf.readUInt32BE(1);
      if ((type !== FRAME_DATA && type !== FRAME_END) || len > MAX_FRAME_BYTES) {
        throw new FramingError("the collector sent a malformed relay frame");
      }
      if (buf.length < 5 + len) break;
      this.onFrame(type, buf.subarray(5, 5 + len));
      buf = buf.subarray(5 + len);
    }
    this.pending = Buffer.from(buf);
  }
}
