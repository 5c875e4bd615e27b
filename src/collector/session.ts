// One connection from one origin: frames its bytes into records and appends them to the
// origin's stream. The session's open and close are collector records in that stream, with an
// id, counts and how it ended, so two disposables that reused a name are told apart.
//
// Backpressure: when the stream's unwritten backlog passes its high-water mark, the session
// stops reading its socket (the sender's channel fills and the sender blocks) until the store
// has caught up. Memory per session is the framer's carry (at most one record) plus socket
// buffers.

import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import type { Policy } from "../policy/engine.ts";
import type { StreamWriter } from "../store/stream-writer.ts";
import { type Framer, FramingError, type RecordSink } from "../wire/framer.ts";
import { LineFramer } from "../wire/lines.ts";
import { OctetFramer } from "../wire/octets.ts";
import type { Format } from "../wire/relay.ts";
import { AgentIntake } from "./agent-intake.ts";
import { BlobIntake } from "./blob-intake.ts";
import { JournalIntake } from "./journal-intake.ts";

export type Transport = "qrexec-exec" | "qrexec-socket" | "local";

export interface SessionOptions {
  origin: string;
  stream: string;
  format: Format;
  transport: Transport;
  maxRecordBytes: number;
  /** The stream's last durable resume reference when the session opened (journal, agent). */
  resumeRef: string | null;
  /** Writes bytes to the sender; used only where the sender asked for them. */
  reply: (bytes: Buffer) => void;
  /** Quotas, rate limits and the disk reserve: when to stop reading this origin. */
  policy?: Policy;
  /** blob: the largest object (`[store] max_blob`), and whether the channel frames it (relay, local). */
  maxBlobBytes?: number;
  framed?: boolean;
  /** Raises an alert in `_logward/alerts` (a refused blob). */
  alert?: (message: string) => void;
}

/** How a format turns the channel's bytes into records: a framer, plus what it adds. */
export interface Intake extends Framer {
  /** Extra `key=value` fields for the close record (may be ""). */
  closeFields(): string;
  /** Everything is durable and the session is over: last words to the sender, if any. */
  finish(result: SessionResult): void;
  /** blob: true while the intake cannot take more bytes yet (stop reading the sender). */
  readonly full?: boolean;
  whenReady?(): Promise<void>;
  /** blob: the call is over; make durable what it sent, or remove it. Returns the close reason. */
  complete?(reason: string): Promise<string>;
}

function intakeFor(session: Session): Intake {
  const o = session.opts;
  if (o.format === "journal") return new JournalIntake(session);
  if (o.format === "agent") return new AgentIntake(session);
  if (o.format === "blob") return new BlobIntake(session, o.maxBlobBytes ?? 2 ** 30, o.framed ?? false);
  const framer =
    o.format === "octets"
      ? new OctetFramer(o.maxRecordBytes, session)
      : new LineFramer(o.maxRecordBytes, session);
  return Object.assign(framer, { closeFields: () => "", finish: () => {} });
}

export interface SessionResult {
  ok: boolean;
  records: number;
  bytes: number;
  reason: string;
}

/** A key=value value: bare when it has no space or quote, else a JSON string. */
export function kvValue(v: string | number): string {
  const text = String(v);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

export function newSessionId(): string {
  return randomBytes(8).toString("hex");
}

export class Session implements RecordSink {
  readonly id = newSessionId();
  readonly opts: SessionOptions;
  readonly socket: Socket;
  readonly writer: StreamWriter;
  private readonly framer: Intake;
  recordCount = 0;
  bytes = 0;
  truncatedRecords = 0;
  lastActivity = Date.now();
  private ending: Promise<SessionResult> | null = null;
  private readonly onEnd: (s: Session, r: SessionResult) => void;

  constructor(
    socket: Socket,
    writer: StreamWriter,
    opts: SessionOptions,
    onEnd: (s: Session, r: SessionResult) => void,
  ) {
    this.socket = socket;
    this.writer = writer;
    this.opts = opts;
    this.onEnd = onEnd;
    this.framer = intakeFor(this);
  }

  /**
   * Records the session's start and begins reading; `first` are bytes read with the header,
   * `ended` says the sender already half-closed.
   */
  start(first: Buffer, ended: boolean): void {
    const o = this.opts;
    this.writer.appendCollector("open", `session=${this.id} transport=${o.transport} format=${o.format}`);
    // the collector's records count against the origin's quota like the sender's
    o.policy?.noteAppend(o.origin);
    this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
    this.socket.on("end", () => void this.end("eof"));
    this.socket.on("error", (err) => void this.end(`error: ${err.message}`));
    this.socket.on("close", () => void this.end("connection closed"));
    if (first.length > 0) this.onData(first);
    if (ended) void this.end("eof");
  }

  get hasSentData(): boolean {
    return this.bytes > 0;
  }

  // ---- RecordSink ----

  records(buf: Buffer, offsets: Uint32Array, count: number): void {
    this.writer.appendSlices(buf, offsets, count);
    this.recordCount += count;
  }

  truncated(kept: Buffer, fullLength: number, ref?: string): void {
    const seq = this.writer.appendRecords([kept], [ref]);
    this.writer.appendCollector(
      "trunc",
      `seq=${seq} kept=${kept.length} received=${fullLength} session=${this.id}`,
    );
    this.recordCount++;
    this.truncatedRecords++;
  }

  /**
   * The sender's record that no LF followed (the last line of a lines stream, a file's last
   * line from `ship`): a `!nolf` naming the record's seq goes first, then the record (cut, with
   * its `!trunc`, when too long), in one append with one receive time. Marker first: a crash
   * keeps a prefix of what was appended, so a record that survives always has its marker.
   */
  unterminated(kept: Buffer, fullLength: number, ref?: string): void {
    const w = this.writer;
    w.together(() => {
      w.appendCollector("nolf", `seq=${w.nextSeq + 1} session=${this.id}`);
      if (fullLength > kept.length) this.truncated(kept, fullLength, ref);
      else {
        w.appendRecords([kept], [ref]);
        this.recordCount++;
      }
    });
  }

  private onData(chunk: Buffer): void {
    if (this.ending) return;
    this.lastActivity = Date.now();
    this.bytes += chunk.length;
    const before = this.recordCount;
    try {
      this.framer.push(chunk);
    } catch (err) {
      void this.end(
        err instanceof FramingError ? `protocol error: ${err.message}` : `error: ${(err as Error).message}`,
      );
      return;
    }
    const policy = this.opts.policy;
    if (policy) {
      policy.noteAppend(this.opts.origin);
      this.rateWaitMs += policy.takeRate(this.opts.origin, this.recordCount - before);
    }
    if (
      this.writer.backlogged ||
      this.rateWaitMs > 0 ||
      this.framer.full ||
      policy?.blocked(this.opts.origin)
    )
      void this.hold();
  }

  private holding = false;
  private rateWaitMs = 0;

  /**
   * Stops reading the sender (its channel fills and it blocks: backpressure, never memory)
   * until the store has caught up, the rate limit allows more, and the policy lets the origin
   * in again (quota with refuse, disk reserve).
   */
  private async hold(): Promise<void> {
    if (this.holding) return;
    this.holding = true;
    this.socket.pause();
    const policy = this.opts.policy;
    while (!this.ending) {
      if (this.writer.backlogged) await this.writer.whenDrained();
      else if (this.framer.full) await this.framer.whenReady!();
      else if (this.rateWaitMs > 0) {
        const wait = this.rateWaitMs;
        this.rateWaitMs = 0;
        await new Promise((r) => setTimeout(r, wait));
      } else if (policy?.blocked(this.opts.origin)) {
        this.lastActivity = Date.now(); // held by us: not idle
        await policy.whenChanged();
      } else break;
    }
    this.holding = false;
    if (!this.ending) this.socket.resume();
  }

  /**
   * Ends the session once: emits what the framer holds, records the close, waits until
   * everything is durable, then reports. `reason` is "eof" for a clean end.
   */
  end(reason: string): Promise<SessionResult> {
    if (this.ending) return this.ending;
    this.ending = (async () => {
      this.socket.pause();
      let why = reason;
      if (reason === "eof" || reason === "shutdown" || reason === "timeout") {
        try {
          this.framer.end();
        } catch (err) {
          why = `protocol error: ${(err as Error).message}`;
        }
      }
      if (this.framer.complete) why = await this.framer.complete(why);
      const extra = this.framer.closeFields();
      const text =
        `session=${this.id} records=${this.recordCount} bytes=${this.bytes} truncated=${this.truncatedRecords} ` +
        `${extra ? `${extra} ` : ""}reason=${kvValue(why)}`;
      let ok = why === "eof";
      try {
        this.writer.appendCollector("close", text);
        this.opts.policy?.noteAppend(this.opts.origin);
        await this.writer.waitDurable();
      } catch (err) {
        ok = false;
        why = `store error: ${(err as Error).message}`;
      }
      const result = { ok, records: this.recordCount, bytes: this.bytes, reason: why };
      this.framer.finish(result);
      this.onEnd(this, result);
      return result;
    })();
    return this.ending;
  }
}
