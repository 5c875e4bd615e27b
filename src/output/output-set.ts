// Every running output of the collector, inside the outputs' worker thread (outputs.ts): start
// the configured `[[output]]`s, apply a new list on SIGHUP (start the added, stop the removed,
// restart the changed; the others go on untouched, keeping their connections and plugins), and
// stop them all. It also writes
// <store>/run/outputs.json (store/output-state.ts) every STATE_EVERY_MS while something changed,
// for `logward ls` and the web UI.

import { existsSync } from "node:fs";
import type { OutputConfig } from "../config/types.ts";
import { streamEnds } from "../query/follow-from.ts";
import { outputStatePath } from "../store/layout.ts";
import { writeOutputsState } from "../store/output-state.ts";
import { listStreams } from "../store/read.ts";
import type { DestinationFactory } from "./destination.ts";
import { DurableGate } from "./durable-gate.ts";
import type { RaiseNotify } from "./notify.ts";
import { NOTIFY_TYPE, notifyFactory } from "./notify-rules.ts";
import { destinationFactory } from "./registry.ts";
import { OutputRunner } from "./runner.ts";

const STATE_EVERY_MS = 2000;

/** What makes a running output restart when it changes: everything but the file it is in. */
function identity(c: OutputConfig): string {
  const { file: _file, ...rest } = c;
  return JSON.stringify(rest);
}

export interface OutputSetOptions {
  readonly log: (message: string) => void;
  /** The first backoff of each runner (tests make it short). */
  readonly backoffMs?: number;
  /** A `[[notify]]` rule's notification, as an alert (notify-rules.ts); none: only logged. */
  readonly raise?: RaiseNotify;
}

export class OutputSet {
  private readonly root: string;
  private readonly opts: OutputSetOptions;
  private readonly runners = new Map<string, OutputRunner>();
  private readonly timer: NodeJS.Timeout;
  private lastState = "";
  private writing: Promise<void> = Promise.resolve();
  private applying: Promise<void> = Promise.resolve();
  /** Each stream's durable seq as the collector reports it (durable-gate.ts). */
  private readonly gate = new DurableGate();
  private started = false;

  constructor(root: string, opts: OutputSetOptions) {
    this.root = root;
    this.opts = opts;
    this.timer = setInterval(() => void this.writeState(), STATE_EVERY_MS);
    this.timer.unref();
  }

  /** Starts `configs` (the first time) or moves from the running outputs to them (SIGHUP). */
  apply(configs: readonly OutputConfig[]): Promise<void> {
    this.applying = this.applying.then(() => this.applyNow(configs));
    return this.applying;
  }

  /** The collector's group commit made these streams ("ORIGIN/STREAM") durable up to these seqs. */
  noteDurable(entries: readonly (readonly [string, number])[]): void {
    for (const [key, seq] of entries) this.gate.note(key, seq);
  }

  private async applyNow(configs: readonly OutputConfig[]): Promise<void> {
    if (!this.started) {
      // the first apply comes before the collector takes a session: what is on disk is durable
      this.started = true;
      this.gate.setStart(await streamEnds(this.root, await listStreams(this.root)));
    }
    const wanted = new Map(configs.map((c) => [c.name, c]));
    const stopping: Promise<void>[] = [];
    for (const [name, runner] of this.runners) {
      const next = wanted.get(name);
      if (next && identity(next) === identity(runner.config)) continue;
      this.runners.delete(name);
      stopping.push(runner.stop());
      this.opts.log(`output ${name}: ${next ? "changed, restarting" : "removed, stopped"}`);
    }
    // a changed output's cursors must be on disk before its successor reads them
    await Promise.all(stopping);
    for (const c of configs) {
      if (this.runners.has(c.name)) continue;
      let factory: DestinationFactory;
      try {
        factory =
          c.type === NOTIFY_TYPE
            ? notifyFactory(this.opts.raise ?? ((_o, m) => this.opts.log(m)))
            : await destinationFactory(c.type);
      } catch (err) {
        const why = err as Error;
        factory = () => {
          throw why;
        };
      }
      const runner = new OutputRunner({
        root: this.root,
        config: c,
        factory,
        log: this.opts.log,
        ...(this.opts.backoffMs !== undefined ? { backoffMs: this.opts.backoffMs } : {}),
        gate: this.gate,
      });
      this.runners.set(c.name, runner);
      runner.start();
    }
    await this.writeState();
  }

  /** Writes run/outputs.json if it changed (and if there are or were outputs at all). */
  private writeState(): Promise<void> {
    this.writing = this.writing.then(async () => {
      const outputs = [...this.runners.values()].map((r) => r.snapshot());
      const text = JSON.stringify(outputs);
      if (text === this.lastState) return;
      if (outputs.length === 0 && !existsSync(outputStatePath(this.root))) return;
      this.lastState = text;
      await writeOutputsState(this.root, { updated: new Date().toISOString(), outputs }).catch((err: Error) =>
        this.opts.log(`outputs: the state file cannot be written: ${err.message}`),
      );
    });
    return this.writing;
  }

  /** Stops every output (their cursors on disk) and writes the state a last time. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.applying;
    await Promise.all([...this.runners.values()].map((r) => r.stop()));
    await this.writeState();
  }
}
