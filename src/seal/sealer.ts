// The collector's sealer (docs/SEALS.md): while `serve` runs on a store that has a sealing key
// (run/seal.key, `logward seal init`), it appends a `!seal` to every stream that got records
// since its last one: at start (a crash's tail), every `[seal] interval`, at the end of every
// epoch, whenever a segment is sealed, and at shutdown. When an epoch ends, every stream is
// sealed with its key, then the key moves along its one-way chain to the epoch of the clock and
// the file is replaced (fsync'd): the key that made those seals exists no more. After each timed
// batch it can hand a checkpoint to `[seal] checkpoint_command` (e.g. to another qube).

import { spawn } from "node:child_process";
import { sealKeyPath } from "../store/layout.ts";
import { formatTime } from "../store/record.ts";
import type { StreamWriter } from "../store/stream-writer.ts";
import { type CheckpointEntry, writeCheckpoint } from "./checkpoint.ts";
import { epochAt, epochStartUs, type KeyFile, nextKey, readKeyFile, writeKeyFile } from "./key.ts";

/** What the sealer needs of the store. */
export interface SealedStore {
  readonly root: string;
  openWriters(): Promise<StreamWriter[]>;
  on(event: "segment-sealed", listener: (w: StreamWriter) => void): unknown;
  off(event: "segment-sealed", listener: (w: StreamWriter) => void): unknown;
}

export interface SealerOptions {
  intervalMs: number;
  /** argv run after each interval's seals with the checkpoint on stdin; null: none. */
  checkpointCommand: readonly string[] | null;
  /** A problem to record (the collector writes it to `_logward/events`). */
  onProblem(what: string, message: string): void;
}

/** True if the store at `root` has a sealing key, so its writers must keep seal chains. */
export async function storeSeals(root: string): Promise<boolean> {
  return (await readKeyFile(sealKeyPath(root))) !== null;
}

export class Sealer {
  private readonly store: SealedStore;
  private readonly opts: SealerOptions;
  private readonly path: string;
  private key: KeyFile;
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<void> = Promise.resolve();
  private readonly onSegment = (w: StreamWriter) => void this.batch([w], false);
  private stopped = false;

  private constructor(store: SealedStore, opts: SealerOptions, key: KeyFile) {
    this.store = store;
    this.opts = opts;
    this.key = key;
    this.path = sealKeyPath(store.root);
    store.on("segment-sealed", this.onSegment);
    void this.batch(null, false).then(() => this.schedule());
  }

  /** The next timed batch: after `interval`, or when the epoch ends if that comes first. */
  private schedule(): void {
    if (this.stopped) return;
    const now = Date.now();
    const epochEnd = epochStartUs(this.key, epochAt(this.key, now * 1000) + 1) / 1000;
    const wait = Math.max(10, Math.min(this.opts.intervalMs, epochEnd - now + 5));
    this.timer = setTimeout(() => void this.batch(null, true).then(() => this.schedule()), wait);
    this.timer.unref();
  }

  /** Starts sealing if the store has a key; null if it has none. */
  static async start(store: SealedStore, opts: SealerOptions): Promise<Sealer | null> {
    const key = await readKeyFile(sealKeyPath(store.root));
    return key ? new Sealer(store, opts, key) : null;
  }

  get epoch(): number {
    return this.key.epoch;
  }

  /** Seals `writers` (null: every open stream), one batch at a time, then evolves the key. */
  batch(writers: StreamWriter[] | null, interval: boolean): Promise<void> {
    const run = async () => {
      if (this.stopped && interval) return;
      const list = writers ?? (await this.store.openWriters());
      const sealed: StreamWriter[] = [];
      for (const w of list) {
        try {
          if (w.appendSeal(this.key) !== null) sealed.push(w);
        } catch (err) {
          this.opts.onProblem("seal-failed", `${w.origin}/${w.stream}: ${(err as Error).message}`);
        }
      }
      await this.advance();
      if (sealed.length > 0 && interval && this.opts.checkpointCommand) await this.sendCheckpoint(list);
    };
    this.queue = this.queue
      .then(run, run)
      .catch((err: Error) => this.opts.onProblem("seal-failed", err.message));
    return this.queue;
  }

  /** Once the clock is past the key's epoch: the key of the clock's epoch replaces it, in memory and on disk. */
  private async advance(): Promise<void> {
    const old = this.key;
    const epoch = epochAt(old, Date.now() * 1000);
    if (epoch <= old.epoch) return;
    let key = nextKey(old.key);
    for (let e = old.epoch + 1; e < epoch; e++) {
      const k = nextKey(key);
      key.fill(0);
      key = k;
    }
    const next: KeyFile = { ...old, epoch, key };
    this.key = next;
    try {
      await writeKeyFile(this.path, next);
    } catch (err) {
      this.opts.onProblem("seal-key", `the next sealing key could not be written: ${(err as Error).message}`);
    }
    old.key.fill(0);
  }

  /** Runs checkpoint_command with the newest durable seal of every stream on stdin. */
  private async sendCheckpoint(writers: StreamWriter[]): Promise<void> {
    const argv = this.opts.checkpointCommand!;
    await Promise.all(writers.map((w) => w.waitDurable().catch(() => {})));
    const entries: CheckpointEntry[] = [];
    for (const w of writers) {
      const s = w.lastSeal;
      if (s && s.seq <= w.durableSeq)
        entries.push({ origin: w.origin, stream: w.stream, seq: s.seq, mac: s.mac });
    }
    const text = writeCheckpoint(entries, this.key, formatTime(Date.now() * 1000));
    await new Promise<void>((resolve) => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "ignore", "pipe"] });
      let err = "";
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      child.stderr.on("data", (d: Buffer) => {
        if (err.length < 500) err += d.toString();
      });
      child.stdin.on("error", () => {});
      child.stdin.end(text);
      child.on("error", (e) => {
        clearTimeout(timer);
        this.opts.onProblem("checkpoint-failed", `checkpoint_command ${argv[0]} cannot run: ${e.message}`);
        resolve();
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        if (code !== 0)
          this.opts.onProblem(
            "checkpoint-failed",
            `checkpoint_command ${argv[0]} exited ${code}: ${err.trim().slice(0, 200)}`,
          );
        resolve();
      });
    });
  }

  /** Shutdown: seals every stream a last time (the caller then closes the store). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.store.off("segment-sealed", this.onSegment);
    await this.batch(null, false);
    await this.queue;
  }
}
