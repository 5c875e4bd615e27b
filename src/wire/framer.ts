// What every framer hands its records to. Records come in batches of slices of one buffer
// (no object per record); a record longer than the limit comes alone, cut to its first
// `limit` bytes, with the length it really had.

export interface RecordSink {
  /** `count` whole records: record i is `buf[offsets[2i], offsets[2i+1])`. Valid only during the call. */
  records(buf: Buffer, offsets: Uint32Array, count: number): void;
  /** One record that was longer than the limit: its first bytes, and its full length. */
  truncated(kept: Buffer, fullLength: number): void;
  /**
   * The last record, ended by the end of the channel instead of its terminator (lines: a last
   * line without LF): its bytes (its first `limit` bytes when `fullLength` is larger). Valid
   * only during the call.
   */
  unterminated(kept: Buffer, fullLength: number): void;
  /**
   * Optional, for the lines framer: stores every complete line of `buf[start, end)` (LF ends a
   * record, not part of it) up to the first one longer than `limit`, and returns where it
   * stopped: the start of that line, of the rest without an LF, or `end`. The store frames and
   * writes plain lines many at a time; the framer still cuts over-long lines and keeps the rest.
   */
  lines?(buf: Buffer, start: number, end: number, limit: number): number;
}

export interface Framer {
  /** Feeds bytes from the channel. Throws FramingError when the sender breaks the protocol. */
  push(chunk: Buffer): void;
  /** The channel ended: emits what is left (a last line without LF is still a record). */
  end(): void;
  /** Bytes held for a record that spans chunks (always <= the record limit). */
  readonly buffered: number;
  /**
   * True when push keeps no view of its chunk once it returns: what spans chunks is copied
   * into the carry, and every record goes to the sink's calls during push. The caller may then
   * free the chunk (a socket read) at once instead of waiting for the garbage collector.
   */
  readonly keepsNoChunk?: boolean;
}

/** The sender broke the framing rules; the session ends and the reason is recorded. */
export class FramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FramingError";
  }
}

/**
 * A frame's JSON payload, not yet checked; a payload that is not JSON is a FramingError
 * saying "`what` is not JSON" (the relay's end frame, the admin answer).
 */
export function parseJsonPayload(payload: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(Buffer.from(payload).toString());
  } catch {
    throw new FramingError(`${what} is not JSON`);
  }
}

const NO_OFFSETS = new Uint32Array(0);

/**
 * Offsets of a batch; flushed to the sink whenever full. The array is made by the first add:
 * a lines session whose sink takes whole runs of lines (RecordSink.lines) rarely needs one, and
 * 500 sessions would otherwise hold 16 MiB of them.
 */
export class OffsetBatch {
  offsets: Uint32Array = NO_OFFSETS;
  count = 0;
  private readonly capacity: number;
  constructor(capacity = 4096) {
    this.capacity = capacity;
  }
  get full(): boolean {
    return this.count >= this.capacity;
  }
  add(start: number, end: number): void {
    if (this.offsets.length === 0) this.offsets = new Uint32Array(this.capacity * 2);
    this.offsets[this.count * 2] = start;
    this.offsets[this.count * 2 + 1] = end;
    this.count++;
  }
  flush(sink: RecordSink, buf: Buffer): void {
    if (this.count > 0) sink.records(buf, this.offsets, this.count);
    this.count = 0;
  }
}
