// `blob`: everything one call sends is one opaque object (EVTX, BSM, pcap, …), kept whole,
// compressed and content-addressed in the stream's `objects/` (src/store/objects.ts), and
// announced by one `!blob` record. The collector never parses it; the type comes from its
// first bytes (src/store/blob-type.ts).
//
// How a call ends decides what is stored:
// - relay (`logward ingest`) and local sockets frame the object (src/wire/relay.ts): only the
//   end frame completes it. A connection that ends without it (ingest killed, connection
//   lost) stores nothing: `!close … reason="cut off: …"`.
// - a qrexec socket service has no framing: qrexec's EOF is the only end signal, and a caller
//   that dies mid-call looks the same as one that finished (docs/PROTOCOL.md, "blob").
// - more than `max_blob` bytes: reading stops at the limit, nothing is stored, the close
//   record and an alert say so. A write error (disk full) stores nothing either.
// Only a complete object is renamed to its SHA-256, announced, and waited for; then the session
// closes and the sender is told "durable".

import type { ObjectReceiver, ReceivedObject } from "../store/object-receiver.ts";
import { BlobFrameDecoder } from "../wire/relay.ts";
import type { BlobHost, Intake } from "./intake.ts";

export class BlobIntake implements Intake {
  readonly buffered = 0;
  private readonly host: BlobHost;
  private readonly maxBytes: number;
  private readonly decoder: BlobFrameDecoder | null;
  private receiver: ObjectReceiver | null = null;
  private stopped = false;
  private fields = "";

  constructor(host: BlobHost, maxBytes: number, framed: boolean) {
    this.host = host;
    this.maxBytes = maxBytes;
    this.decoder = framed ? new BlobFrameDecoder((b) => this.data(b)) : null;
  }

  push(chunk: Buffer): void {
    if (this.stopped) return;
    if (this.decoder) this.decoder.push(chunk);
    else this.data(chunk);
  }

  private data(bytes: Buffer): void {
    if (this.stopped) return;
    if (!this.receiver)
      this.receiver = this.host.receiveObject((err) => this.host.end(`store error: ${err.message}`));
    const r = this.receiver;
    if (r.size + bytes.length > this.maxBytes) {
      this.stopped = true;
      const o = this.host;
      const why = `refused: the object is larger than max_blob (${this.maxBytes} bytes); nothing was stored`;
      o.alert(
        `refused a blob from ${o.origin}/${o.stream}: more than max_blob (${this.maxBytes} bytes) sent; nothing was stored`,
      );
      o.end(why);
      return;
    }
    r.write(bytes);
  }

  /** Backpressure: the compressor is full, stop reading the sender. */
  get full(): boolean {
    return this.receiver?.full ?? false;
  }

  whenReady(): Promise<void> {
    return this.receiver?.whenReady() ?? Promise.resolve();
  }

  end(): void {}

  closeFields(): string {
    return this.fields;
  }

  finish(): void {}

  /**
   * The call is over: on a complete object, make it durable and announce it (or find it is a
   * duplicate); on anything else remove what was received. Returns the close reason.
   */
  async complete(reason: string): Promise<string> {
    this.stopped = true;
    const r = this.receiver;
    let why = reason;
    if (why === "eof" && this.decoder && this.decoder.endTotal === null)
      why = "cut off: the connection ended before the object's end frame; nothing was stored";
    if (why !== "eof" || !r || r.size === 0) {
      await r?.abort();
      this.fields = `size=${r?.size ?? 0}${why === "eof" ? " object=none" : ""}`;
      return why;
    }
    let received: ReceivedObject;
    try {
      received = await r.finish();
    } catch (err) {
      await r.abort();
      this.fields = `size=${r.size}`;
      return `store error: ${(err as Error).message}`;
    }
    try {
      const { info, duplicate } = await this.host.commitObject(received);
      this.fields = duplicate
        ? `size=${info.size} sha256=${info.sha256} duplicate_of=${info.seq}`
        : `size=${info.size} sha256=${info.sha256} object_seq=${info.seq}`;
      // the object now counts whole in the quota: checked now, not at the next append
      if (!duplicate) this.host.objectStored();
      return "eof";
    } catch (err) {
      // commit removed the file (temporary or renamed) itself
      this.fields = `size=${r.size}`;
      return `store error: ${(err as Error).message}`;
    }
  }
}
