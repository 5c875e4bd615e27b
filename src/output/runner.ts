// One output at work: reads every stream its `match` selects from the store (query/follow.ts:
// by sequence number, inotify for what is appended and for new streams), from each stream's
// durable cursor (cursors.ts), in batches, hands them to its Destination (destination.ts), and
// moves a cursor only once the destination acknowledged the records. A destination that fails
// is closed and made again after a backoff (1 s, doubling to 60 s, back to 1 s after a minute
// of health), and reading starts again from the cursors, so nothing unacknowledged is lost.
//
// Nothing here touches the ingest path: the reader only reads files, and its buffers are
// bounded (BATCH_* per batch, WINDOW_* in flight), so a slow or dead destination only stops
// this reader. The state it keeps (positions, restarts, last error) goes to run/outputs.json
// through the facade (outputs.ts).

import type { OutputConfig } from "../config/types.ts";
import { followStreams } from "../query/follow.ts";
import { streamEnds } from "../query/follow-from.ts";
import type { LineView } from "../query/records.ts";
import { outputDir } from "../store/layout.ts";
import { globToRegExp } from "../store/names.ts";
import type { OutputState } from "../store/output-state.ts";
import { listStreams, type StreamRef } from "../store/read.ts";
import { parseLine, parseTime } from "../store/record.ts";
import { Cursors, streamKey } from "./cursors.ts";
import type { Destination, DestinationFactory, DestinationHost, OutRecord } from "./destination.ts";
import type { DurableGate } from "./durable-gate.ts";

/** A batch is sent when it has this many records or bytes, or LINGER_MS after its first record. */
export const BATCH_RECORDS = 1000;
export const BATCH_BYTES = 256 * 1024;
const LINGER_MS = 20;
/** In flight at most (sent, not yet acknowledged): bytes and batches. */
export const WINDOW_BYTES = 4 * 1024 * 1024;
const WINDOW_BATCHES = 64;
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 60_000;
/** A destination that worked this long before failing starts again after the first backoff. */
const HEALTHY_MS = 60_000;

/** Which streams an output reads: its `match` ("ORIGIN-GLOB[/STREAM-GLOB]"). */
export function outputMatcher(match: string): (ref: StreamRef) => boolean {
  const [origin = "*", stream = "*"] = match.split("/");
  const o = globToRegExp(origin);
  const s = globToRegExp(stream);
  // the collector's own `_logward` only when the glob names it (as a shell glob skips dotfiles):
  // "*" forwards what senders sent, not the collector's events about them
  const own = origin.startsWith("_");
  return (ref) => (own || !ref.origin.startsWith("_")) && o.test(ref.origin) && s.test(ref.stream);
}

/** One stored line as an OutRecord (copied: the block is reused); null for a damaged line. */
export function toRecord(view: LineView): OutRecord | null {
  const p = parseLine(view.block, view.start, view.end);
  if (!p) return null;
  const line = Buffer.from(view.block.subarray(view.start, view.end));
  return {
    origin: view.ref.origin,
    stream: view.ref.stream,
    seq: p.seq,
    time: p.time,
    timeUs: parseTime(p.time),
    kind: p.kind,
    ref: p.ref,
    line,
    payload: line.subarray(p.payloadStart - view.start, p.payloadEnd - view.start),
  };
}

interface InFlight {
  readonly done: Promise<void>;
  readonly bytes: number;
}

export interface RunnerOptions {
  readonly root: string;
  readonly config: OutputConfig;
  readonly factory: DestinationFactory;
  /** One line to the collector's log. */
  readonly log: (message: string) => void;
  /** The first backoff (tests make it short); BACKOFF_FIRST_MS by default. */
  readonly backoffMs?: number;
  /** Holds back records not yet durable (durable-gate.ts); none: everything on disk may go. */
  readonly gate?: DurableGate;
}

export class OutputRunner {
  readonly config: OutputConfig;
  private readonly opts: RunnerOptions;
  private readonly stopping = new AbortController();
  private cursors: Cursors | null = null;
  private running: Promise<void> | null = null;
  private restarts = 0;
  private lastError: string | null = null;
  private lastErrorAt: string | null = null;
  private status: OutputState["status"] = "running";
  /** Every stream it reads, with a cursor or not yet (its lag counts from the stream's start). */
  private readonly known = new Set<string>();
  /** What the destinations counted (DestinationHost.count), since the output started. */
  private readonly counts = new Map<string, number>();

  constructor(opts: RunnerOptions) {
    this.opts = opts;
    this.config = opts.config;
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** Stops reading, closes the destination, and waits for the cursors to be on disk. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
    await this.cursors?.flush().catch(() => {});
  }

  /** What run/outputs.json says about this output. */
  snapshot(): OutputState {
    const streams: OutputState["streams"] = {};
    for (const k of this.known) streams[k] = { seq: 0, time: null };
    for (const [k, p] of this.cursors?.positions ?? []) streams[k] = { ...p };
    return {
      name: this.config.name,
      type: this.config.type,
      match: this.config.match,
      status: this.status,
      restarts: this.restarts,
      lastError: this.lastError,
      lastErrorAt: this.lastErrorAt,
      streams,
      ...(this.counts.size > 0 ? { counts: Object.fromEntries(this.counts) } : {}),
    };
  }

  private fail(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.lastError = message;
    this.lastErrorAt = new Date().toISOString();
    this.opts.log(`output ${this.config.name}: ${message}`);
  }

  private async loop(): Promise<void> {
    const stop = this.stopping.signal;
    let backoff = this.opts.backoffMs ?? BACKOFF_FIRST_MS;
    while (!stop.aborted) {
      const began = Date.now();
      try {
        this.cursors ??= await Cursors.load(this.opts.root, this.config.name);
        this.status = "running";
        await this.pump(this.cursors);
      } catch (err) {
        if (!stop.aborted) this.fail(err);
      }
      if (stop.aborted) break;
      this.restarts++;
      this.status = "retrying";
      if (Date.now() - began > HEALTHY_MS) backoff = this.opts.backoffMs ?? BACKOFF_FIRST_MS;
      await sleep(backoff, stop);
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    }
  }

  /** Where each matching stream starts: after its cursor, or where `start` says for a new one. */
  private async starts(cursors: Cursors, matches: (r: StreamRef) => boolean) {
    const refs = (await listStreams(this.opts.root)).filter(matches);
    for (const r of refs) this.known.add(streamKey(r.origin, r.stream));
    const fresh = refs.filter((r) => !cursors.positions.has(streamKey(r.origin, r.stream)));
    if (this.config.start === "newest" && fresh.length > 0) {
      const ends = await streamEnds(this.opts.root, fresh);
      for (const r of fresh)
        cursors.place(streamKey(r.origin, r.stream), ends.get(streamKey(r.origin, r.stream)) ?? 0, null);
      await cursors.flush();
    }
    return refs.map((ref) => ({
      ref,
      nextSeq: (cursors.positions.get(streamKey(ref.origin, ref.stream))?.seq ?? 0) + 1,
    }));
  }

  /** One destination's life: resolves when the output stops, throws when the destination failed. */
  private async pump(cursors: Cursors): Promise<void> {
    const stop = this.stopping.signal;
    const reading = new AbortController();
    const onStop = () => reading.abort();
    stop.addEventListener("abort", onStop, { once: true });
    let failure: unknown = null;
    let failNow: (err: unknown) => void = () => {};
    const failed = new Promise<never>((_, reject) => {
      failNow = (err) => {
        failure ??= err;
        reading.abort();
        reject(failure);
      };
    });
    failed.catch(() => {});
    const aborted = new Promise<void>((resolve) =>
      reading.signal.addEventListener("abort", () => resolve(), { once: true }),
    );
    const host: DestinationHost = {
      store: this.opts.root,
      stateDir: outputDir(this.opts.root, this.config.name),
      log: (m) => this.opts.log(`output ${this.config.name}: ${m}`),
      acknowledged: (origin, stream, seq) => cursors.advance(streamKey(origin, stream), seq, null),
      signal: reading.signal,
      fail: (err) => failNow(err),
      count: (counter, n = 1) => this.counts.set(counter, (this.counts.get(counter) ?? 0) + n),
    };
    let dest: Destination | null = null;
    const inFlight: InFlight[] = [];
    let inFlightBytes = 0;
    let batch: OutRecord[] = [];
    let batchBytes = 0;
    let linger: NodeJS.Timeout | undefined;
    /** Per stream, the last seq handed to a batch: a stream found twice is never sent twice. */
    const emitted = new Map<string, number>();

    const send = () => {
      clearTimeout(linger);
      linger = undefined;
      if (batch.length === 0 || failure) return;
      const records = batch;
      const bytes = batchBytes;
      batch = [];
      batchBytes = 0;
      const last = new Map<string, OutRecord>();
      for (const r of records) last.set(streamKey(r.origin, r.stream), r);
      // in call order even if a destination resolved out of order: a cursor never skips a batch
      const before = inFlight.at(-1)?.done;
      const done = Promise.all([before, dest!.deliver(records)]).then(() => {
        for (const [k, r] of last) cursors.advance(k, r.seq, r.time);
      });
      done.catch(failNow);
      const entry = { done, bytes };
      inFlight.push(entry);
      inFlightBytes += bytes;
      void done.then(
        () => {
          inFlight.splice(inFlight.indexOf(entry), 1);
          inFlightBytes -= bytes;
        },
        () => {},
      );
    };
    const emit = async (view: LineView): Promise<void> => {
      if (reading.signal.aborted) throw failure ?? new Error("stopped");
      const rec = toRecord(view);
      if (!rec) return;
      const key = streamKey(rec.origin, rec.stream);
      this.known.add(key);
      if (rec.seq <= (emitted.get(key) ?? cursors.positions.get(key)?.seq ?? 0)) return;
      // not durable yet: wait for the group commit (or the end of this destination's life)
      const durable = this.opts.gate?.wait(key, rec.seq);
      if (durable) {
        if (batch.length > 0) send(); // what is durable already need not wait with it
        await Promise.race([durable, failed, aborted]);
        if (reading.signal.aborted) throw failure ?? new Error("stopped");
      }
      emitted.set(key, rec.seq);
      batch.push(rec);
      batchBytes += rec.line.length;
      if (batch.length >= BATCH_RECORDS || batchBytes >= BATCH_BYTES) send();
      else linger ??= setTimeout(send, LINGER_MS);
      // the window: wait for the oldest batches (or the failure) before reading on
      while (inFlight.length > 0 && (inFlightBytes >= WINDOW_BYTES || inFlight.length >= WINDOW_BATCHES))
        await Promise.race([inFlight[0]!.done, failed]);
    };

    try {
      const matches = outputMatcher(this.config.match);
      const starts = await this.starts(cursors, matches);
      dest = this.opts.factory(this.config, host);
      const follow = followStreams(this.opts.root, starts, emit, reading.signal, matches);
      await Promise.race([follow, failed]);
      await follow.catch(() => {});
    } finally {
      clearTimeout(linger);
      stop.removeEventListener("abort", onStop);
      reading.abort();
      // close() settles every pending deliver(): what was acknowledged meanwhile still moves the cursors
      await dest?.close();
      await Promise.allSettled(inFlight.map((f) => f.done));
    }
    if (failure) throw failure;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
