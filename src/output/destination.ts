// The one interface every output type implements (issue 19, docs/OUTPUTS.md). An output reads
// records from the store (never from the ingest path) through the runner (runner.ts), which
// keeps a durable cursor per stream and hands the destination batches of records in seq order
// per stream; a destination only has to send them and say when they are acknowledged.
//
// The contract, which test/helpers/destination-suite.ts checks against every implementation:
// - deliver(batch) resolves once the destination has acknowledged every record of the batch
//   (durably, where the type allows: the receiver's fsync, JetStream's publish ack, a plugin's
//   `ack` line); only then does the runner move the cursor past them.
// - The runner may call deliver() again before an earlier call resolved (pipelining, bounded by
//   the runner's window); the calls resolve in the order they were made.
// - deliver() rejects when the destination failed (connection lost, plugin died): the runner
//   stops calling it, close()s it, counts a restart, records the error, waits with backoff, makes
//   a new one with the factory and resends everything after the cursor. So a record is delivered
//   at least once; exactly once where the receiver recognises a resent record (the seq).
// - A destination may report finer progress than whole batches through host.acknowledged(): a
//   cumulative "every record of ORIGIN/STREAM up to SEQ is acknowledged" (the exec plugin's
//   acks), which the runner persists too, so that a restart resends only what was not acked.
// - close() releases everything (process, socket, timers) and resolves once it has, after
//   settling every pending deliver() (resolved if acknowledged meanwhile, else rejected);
//   records not acknowledged are simply sent again by the next destination.

import type { OutputConfig, OutputType } from "../config/types.ts";

/** One stored record as an output gets it: the stored line, and its fields parsed. */
export interface OutRecord {
  /** The origin and stream it was stored under (valid names, store/names.ts). */
  readonly origin: string;
  readonly stream: string;
  /** Its sequence number in the stream, from 1: with origin and stream, its identity. */
  readonly seq: number;
  /** The collector's receive time as stored: 27 bytes, 2026-11-24T09:16:19.123456Z. */
  readonly time: string;
  /** The same in microseconds since the epoch (for lag and for protocols that want a number). */
  readonly timeUs: number;
  /** "." for a sender's record, "!name" for one the collector wrote (docs/FORMAT.md). */
  readonly kind: string;
  /** The resume reference after "@" in the kind field, if the line has one. */
  readonly ref: string | undefined;
  /** The whole stored line, without its LF. */
  readonly line: Buffer;
  /** The payload as stored: escaped (store/escape.ts), never LF, CR, ESC or NUL. */
  readonly payload: Buffer;
}

/** What the runner gives a destination. */
export interface DestinationHost {
  /** The store's root directory (read-only for a destination). */
  readonly store: string;
  /** This output's own directory, <store>/run/outputs/<name>/, for a destination's state. */
  readonly stateDir: string;
  /** One line to the collector's log (e.g. a plugin's stderr), prefixed with the output's name. */
  log(message: string): void;
  /** Cumulative progress finer than whole batches: ORIGIN/STREAM is acknowledged up to `seq`. */
  acknowledged(origin: string, stream: string, seq: number): void;
  /** Aborted when the output is stopped (reload, shutdown): cancel waits and timers. */
  readonly signal: AbortSignal;
  /**
   * The destination failed while no deliver() was pending (a plugin exited while idle, a
   * connection dropped): the runner restarts it with backoff as if a deliver() had rejected,
   * rather than only when the next record comes. Optional to call; the runner provides it.
   */
  fail?(error: Error): void;
  /**
   * Adds `n` to one of the output's counters (a notify rule's notifications and matches held
   * back by its rate), kept by the runner across the destination's restarts and shown in
   * run/outputs.json. Optional to call and to provide.
   */
  count?(counter: string, n?: number): void;
}

/** One running output of one type. */
export interface Destination {
  /** Sends `batch` (non-empty); resolves once every record in it is acknowledged. */
  deliver(batch: readonly OutRecord[]): Promise<void>;
  /** Stops and releases everything; resolves once done. Never rejects. */
  close(): Promise<void>;
}

/** Makes one destination of a type from its checked `[[output]]` table (config/output.ts). */
export type DestinationFactory = (config: OutputConfig, host: DestinationHost) => Destination;

export type { OutputConfig, OutputType };
