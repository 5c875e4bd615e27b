// What a format's intake is (how it turns the channel's bytes into records, beyond a plain
// framer) and the narrow host it works for: store records and markers in the stream, answer
// the sender, know where the stream resumes. A session is that host; the intakes
// (journal-intake.ts, agent-intake.ts, blob-intake.ts) see only this interface, never the
// session's writer or counters, so they and session.ts do not import each other.

import type { ObjectReceiver, ReceivedObject } from "../store/object-receiver.ts";
import type { ObjectInfo } from "../store/objects.ts";
import type { Framer } from "../wire/framer.ts";

/** How a session ended, once everything it stored is durable. */
export interface SessionResult {
  ok: boolean;
  records: number;
  bytes: number;
  reason: string;
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

/** What an intake may ask of its session. */
export interface IntakeHost {
  /** The session's id, named in the markers an intake writes. */
  readonly id: string;
  readonly origin: string;
  readonly stream: string;
  readonly maxRecordBytes: number;
  /** The stream's last durable resume reference when the session opened (journal, agent). */
  readonly resumeRef: string | null;
  /** Stores `count` records, slices of `buf` (start, end offset pairs), with their resume refs. */
  append(buf: Buffer, offsets: Uint32Array, count: number, refs?: readonly string[]): void;
  /** Stores one record. */
  appendRecord(payload: Buffer, ref?: string): void;
  /** Stores a record cut to `kept` (`!trunc` says how long it was). */
  truncated(kept: Buffer, fullLength: number, ref?: string): void;
  /** Stores the sender's record that no LF followed (`!nolf` first). */
  unterminated(kept: Buffer, fullLength: number, ref?: string): void;
  /** A collector marker in the stream: records the sender dropped or skipped. */
  note(kind: "gap", text: string, ref?: string): void;
  /** Writes bytes to the sender (framed when the channel is). */
  reply(bytes: Buffer): void;
  /** Resolves when everything stored so far is durable. */
  whenDurable(): Promise<void>;
  /** Ends the session (once). */
  end(reason: string): void;
}

/** What the `blob` intake asks besides: the stream's object store. */
export interface BlobHost extends IntakeHost {
  /** Starts receiving one object; throws when the stream has no object store. */
  receiveObject(onFailure: (err: Error) => void): ObjectReceiver;
  /** Makes a received object durable and announces it (or finds it is a duplicate). */
  commitObject(r: ReceivedObject): Promise<{ info: ObjectInfo; duplicate: boolean }>;
  /** A new object was stored: it counts as a record, and whole in the origin's quota. */
  objectStored(): void;
  /** Raises an alert in `_logward/alerts` (a refused blob). */
  alert(message: string): void;
}
