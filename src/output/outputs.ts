// The one facade the collector uses for outputs (`[[output]]`): start them, apply a new list on
// SIGHUP, stop them. They run in a worker thread (outputs-worker.ts with output-set.ts), so that
// reading the store, encoding records and talking to destinations never take the collector's
// own thread from ingest: on a busy collector an output costs a core of its own, not latency
// on every session (npm run bench:outputs). A worker that dies is started again after a
// second with the last list; each output then resumes from its durable cursors.

import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { OutputConfig } from "../config/types.ts";

const WORKER = new URL(`./outputs-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
const RESTART_MS = 1000;
/** How often at most the durable seqs go to the worker: an output's latency, not ingest's. */
const DURABLE_EVERY_MS = 10;

/** What the worker is given at start. */
export interface OutputsWorkerData {
  readonly root: string;
  readonly backoffMs: number | undefined;
}

/** Messages to the worker, and from it. */
export type ToOutputs =
  | { id: number; apply: readonly OutputConfig[] }
  | { id: number; close: true }
  | { durable: [string, number][] };
export type FromOutputs = { done: number } | { log: string } | { alert: { origin: string; message: string } };

export interface OutputsOptions {
  /** One line to the collector's log. */
  readonly log: (message: string) => void;
  /** The first backoff of each output (tests make it short). */
  readonly backoffMs?: number;
  /** A `[[notify]]` rule's notification (notify-rules.ts): an alert in the collector. */
  readonly raise?: (origin: string, message: string) => void;
}

export class Outputs {
  private readonly root: string;
  private readonly opts: OutputsOptions;
  private worker: Worker | null = null;
  private last: readonly OutputConfig[] = [];
  private nextId = 1;
  private readonly waiting = new Map<number, () => void>();
  private closed = false;
  /** Every stream's durable seq since the collector started (one entry a stream), for a new worker. */
  private readonly known = new Map<string, number>();
  /** Durable seqs not yet sent to the worker, sent together on the next turn. */
  private durable = new Map<string, number>();
  private durableTimer: NodeJS.Timeout | null = null;

  constructor(root: string, opts: OutputsOptions) {
    this.root = root;
    this.opts = opts;
  }

  /** Starts `configs` (the first time) or moves the running outputs to them (SIGHUP). */
  apply(configs: readonly OutputConfig[]): Promise<void> {
    this.last = configs;
    if (configs.length === 0 && !this.worker) return Promise.resolve();
    return this.ask((id) => ({ id, apply: configs }));
  }

  /**
   * The store's group commit made `origin/stream` durable up to `seq` (store.ts "durable"): the
   * outputs send only durable records (durable-gate.ts). Batched: at most one message every
   * DURABLE_EVERY_MS, so that a busy collector's many commits cost it little.
   */
  noteDurable(origin: string, stream: string, seq: number): void {
    const key = `${origin}/${stream}`;
    this.known.set(key, seq);
    if (!this.worker || this.closed) return;
    this.durable.set(key, seq);
    this.durableTimer ??= setTimeout(() => {
      this.durableTimer = null;
      const entries = [...this.durable];
      this.durable = new Map();
      this.worker?.postMessage({ durable: entries } satisfies ToOutputs);
    }, DURABLE_EVERY_MS);
  }

  /** Stops every output, their cursors on disk, and the worker. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.worker) return;
    const worker = this.worker;
    await this.ask((id) => ({ id, close: true }));
    await worker.terminate();
  }

  private ask(message: (id: number) => ToOutputs): Promise<void> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      worker.postMessage(message(id));
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const data: OutputsWorkerData = { root: this.root, backoffMs: this.opts.backoffMs };
    const worker = new Worker(WORKER, { workerData: data });
    this.worker = worker;
    // before any apply: what the collector made durable so far
    worker.postMessage({ durable: [...this.known] } satisfies ToOutputs);
    worker.on("message", (m: FromOutputs) => {
      if ("log" in m) this.opts.log(m.log);
      else if ("alert" in m) this.opts.raise?.(m.alert.origin, m.alert.message);
      else {
        this.waiting.get(m.done)?.();
        this.waiting.delete(m.done);
      }
    });
    worker.on("error", (err) => this.opts.log(`outputs: the worker failed: ${err.stack ?? err.message}`));
    worker.on("exit", () => {
      if (this.worker !== worker) return;
      this.worker = null;
      // whoever waits on the dead worker must not wait forever
      for (const done of this.waiting.values()) done();
      this.waiting.clear();
      if (this.closed) return;
      setTimeout(() => {
        if (!this.closed && !this.worker) void this.apply(this.last);
      }, RESTART_MS).unref();
    });
    return worker;
  }
}
