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
import { kvValue } from "../store/kv.ts";
import type { ObjectReceiver, ReceivedObject } from "../store/object-receiver.ts";
import type { ObjectInfo } from "../store/objects.ts";
import { releaseBuffer } from "../store/release.ts";
import type { StreamWriter } from "../store/stream-writer.ts";
import { FramingError, type RecordSink } from "../wire/framer.ts";
import { LineFramer } from "../wire/lines.ts";
import { OctetFramer } from "../wire/octets.ts";
import type { Format } from "../wire/relay.ts";
import { SyslogFramer } from "../wire/syslog-framer.ts";
import { AgentIntake } from "./agent-intake.ts";
import { BlobIntake } from "./blob-intake.ts";
import type { BlobHost, Intake, IntakeHost, SessionResult } from "./intake.ts";
import { JournalIntake } from "./journal-intake.ts";

export type Transport = "qrexec-exec" | "qrexec-socket" | "local" | "tcp" | "tls";

/** A relay format, or `syslog` (RFC 6587 framing on a `[[listen]]` TCP or TLS connection). */
export type SessionFormat = Format | "syslog";

/** What a session asks the policy engine. */
export type SessionPolicy = Pick<Policy, "noteAppend" | "takeRate" | "blocked" | "whenChanged">;

export interface SessionOptions {
  origin: string;
  stream: string;
  format: SessionFormat;
  transport: Transport;
  maxRecordBytes: number;
  /** An intake other than the format's own (RELP on a `[[listen]]` connection). */
  intake?: (host: IntakeHost) => Intake;
  /** The stream's last durable resume reference when the session opened (journal, agent). */
  resumeRef: string | null;
  /** Writes bytes to the sender; used only where the sender asked for them. */
  reply: (bytes: Buffer) => void;
  /** Quotas, rate limits and the disk reserve: when to stop reading this origin. */
  policy?: SessionPolicy;
  /** blob: the largest object (`[store] max_blob`), and whether the channel frames it (relay, local). */
  maxBlobBytes?: number;
  framed?: boolean;
  /** Raises an alert in `_logward/alerts` (a refused blob). */
  alert?: (message: string) => void;
}

function intakeFor(session: Session): Intake {
  const o = session.opts;
  if (o.intake) return o.intake(session);
  if (o.format === "journal") return new JournalIntake(session);
  if (o.format === "agent") return new AgentIntake(session);
  if (o.format === "blob") return new BlobIntake(session, o.maxBlobBytes ?? 2 ** 30, o.framed ?? false);
  const framer =
    o.format === "octets"
      ? new OctetFramer(o.maxRecordBytes, session)
      : o.format === "syslog"
        ? new SyslogFramer(o.maxRecordBytes, session)
        : new LineFramer(o.maxRecordBytes, session);
  return Object.assign(framer, { closeFields: () => "", finish: () => {} });
}

export function newSessionId(): string {
  return randomBytes(8).toString("hex");
}

export class Session implements RecordSink, BlobHost {
  readonly id = newSessionId();
  readonly opts: SessionOptions;
  readonly socket: Socket;
  readonly writer: StreamWriter;
  private readonly framer: Intake;
  /** Frees each socket read once framed: the framer keeps no view of it and the sink is this. */
  private readonly releasesChunks: boolean;
  recordCount = 0;
  bytes = 0;
  truncatedRecords = 0;
  lastActivity = Date.now();
  private ending: Promise<SessionResult> | null = null;
  /** The socket is paused until the store, the rate limit, the intake and the policy allow. */
  private holding = false;
  /** How long the rate limit says to wait before reading more. */
  private rateWaitMs = 0;
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
    this.releasesChunks = opts.intake === undefined && this.framer.keepsNoChunk === true;
  }

  /**
   * Records the session's start and begins reading (the socket comes paused); `first` are
   * bytes read with the header, `ended` says the sender already half-closed.
   */
  start(first: Buffer, ended: boolean): void {
    const o = this.opts;
    const openSeq = this.writer.appendCollector(
      "open",
      `session=${this.id} transport=${o.transport} format=${o.format}`,
    );
    this.writer.declareType(o.format, openSeq);
    // the collector's records count against the origin's quota like the sender's
    o.policy?.noteAppend(o.origin);
    this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
    this.socket.on("end", () => void this.end("eof"));
    this.socket.on("error", (err) => void this.end(`error: ${err.message}`));
    this.socket.on("close", () => void this.end("connection closed"));
    if (first.length > 0) this.onData(first);
    if (ended) void this.end("eof");
    // read on only now, and only if the first bytes did not already call for a hold (a
    // backlogged stream, the policy): resuming under a hold would read past backpressure
    else if (!this.holding) this.socket.resume();
  }

  get hasSentData(): boolean {
    return this.bytes > 0;
  }

  // ---- IntakeHost (what the intakes ask), RecordSink (lines, octets) ----

  get origin(): string {
    return this.opts.origin;
  }

  get stream(): string {
    return this.opts.stream;
  }

  get maxRecordBytes(): number {
    return this.opts.maxRecordBytes;
  }

  get resumeRef(): string | null {
    return this.opts.resumeRef;
  }

  append(buf: Buffer, offsets: Uint32Array, count: number, refs?: readonly string[]): void {
    this.writer.appendSlices(buf, offsets, count, refs);
    this.recordCount += count;
  }

  appendRecord(payload: Buffer, ref?: string): void {
    this.writer.appendRecords([payload], [ref]);
    this.recordCount++;
  }

  records(buf: Buffer, offsets: Uint32Array, count: number): void {
    this.append(buf, offsets, count);
  }

  lines(buf: Buffer, start: number, end: number, limit: number): number {
    const before = this.writer.nextSeq;
    const stop = this.writer.appendLines(buf, start, end, limit);
    this.recordCount += this.writer.nextSeq - before;
    return stop;
  }

  note(kind: "gap", text: string, ref?: string): void {
    this.writer.appendCollector(kind, text, ref);
  }

  reply(bytes: Buffer): void {
    this.opts.reply(bytes);
  }

  whenDurable(): Promise<void> {
    return this.writer.waitDurable();
  }

  receiveObject(onFailure: (err: Error) => void): ObjectReceiver {
    const objects = this.writer.objects;
    if (!objects) throw new Error("the stream has no object store");
    return objects.receive(onFailure);
  }

  commitObject(r: ReceivedObject): Promise<{ info: ObjectInfo; duplicate: boolean }> {
    return this.writer.objects!.commit(r, this.writer, this.id);
  }

  objectStored(): void {
    this.recordCount++;
    this.opts.policy?.noteAppend(this.opts.origin);
  }

  alert(message: string): void {
    this.opts.alert?.(message);
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
      else this.appendRecord(kept, ref);
    });
  }

  private onData(chunk: Buffer): void {
    if (this.ending) return;
    this.lastActivity = Date.now();
    this.bytes += chunk.length;
    const before = this.recordCount;
    try {
      this.framer.push(chunk);
      // the framer copied what it keeps and this session's writer copied every record: the
      // socket's read buffer is spent (src/store/release.ts)
      if (this.releasesChunks) releaseBuffer(chunk);
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
