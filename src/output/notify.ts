// Notify rules (`[[notify]]`, config/notify.ts; docs/CONFIG.md, "[[notify]]"): the filter
// and notify plugin of issue 19. Each rule reads the store like an output (runner.ts, with its
// own cursors under run/outputs/_notify.<name>/, starting at the newest record), so it never
// slows ingest; this module is its Destination. A sender's record (`.`) that passes the rule's
// severity range and regular expression becomes a notification: a one-line summary given to
// the rule's command on stdin, and an alert (`alert=notify`, `logward alerts`, the web UI).
//
// Bounded three ways: the rate (`rate`, a token bucket per rule; matches over it are counted and
// one notification says how many, once the rate allows again), the command (30 s, then killed;
// its stderr cut to a few lines in the collector's log), and the expression, which runs in a
// worker thread (notify-worker.ts) with a time budget per batch: a batch over it is not
// checked, and an alert says which records those were. The runner keeps its counters
// (`notified`, `held` by the rate, `unchecked` over the budget) for run/outputs.json. The records themselves are anyone's,
// the expression the administrator's.

import { spawn } from "node:child_process";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { NotifyConfig } from "../config/types.ts";
import { compileSyslogFilter, type SyslogFilter, syslogMatches } from "../query/syslog-filter.ts";
import { COLLECTOR_ORIGIN } from "../store/names.ts";
import { parseLine } from "../store/record.ts";
import type { Destination, DestinationHost, OutRecord } from "./destination.ts";
import type { NotifyAnswer } from "./notify-worker.ts";

/** The time a batch's payloads may take in the rule's expression. */
export const NOTIFY_BUDGET_MS = 1000;
const COMMAND_TIMEOUT_MS = 30_000;
/** The payload's share of a summary line, in characters. */
const SUMMARY_PAYLOAD = 300;

/** What a notification is, besides the command: an alert (the collector's Alerts.raise). */
export type RaiseNotify = (origin: string, message: string) => void;

const WORKER = new URL(`./notify-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/** The one-line summary of a matching record: escaped as stored, so one line whatever it held. */
export function notifySummary(rule: string, r: OutRecord): string {
  const text = r.payload.toString("utf8");
  const cut = text.length > SUMMARY_PAYLOAD ? `${text.slice(0, SUMMARY_PAYLOAD)}…` : text;
  return `notify ${rule}: ${r.origin}/${r.stream} seq ${r.seq} at ${r.time}: ${cut}`;
}

/** At most `count` tokens, `count` more every `periodMs`, taken one per notification. */
class RateLimit {
  private tokens: number;
  private last = Date.now();
  private readonly count: number;
  private readonly periodMs: number;

  constructor(count: number, periodMs: number) {
    this.count = count;
    this.periodMs = periodMs;
    this.tokens = count;
  }

  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  /** Milliseconds until take() would succeed. */
  wait(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * this.periodMs) / this.count);
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.count, this.tokens + ((now - this.last) * this.count) / this.periodMs);
    this.last = now;
  }
}

export class NotifyDestination implements Destination {
  private readonly rule: NotifyConfig;
  private readonly host: DestinationHost;
  private readonly raise: RaiseNotify;
  private readonly severity: SyslogFilter | null;
  private readonly limit: RateLimit;
  private worker: Worker | null = null;
  private jobs = 0;
  private chain: Promise<void> = Promise.resolve();
  /** Matches held back by the rate since `heldSince`, and the last of them. */
  private held = 0;
  private heldSince = "";
  private heldLast: OutRecord | null = null;
  private heldTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(rule: NotifyConfig, host: DestinationHost, raise: RaiseNotify) {
    this.rule = rule;
    this.host = host;
    this.raise = raise;
    this.severity =
      rule.severity === null
        ? null
        : compileSyslogFilter([
            { option: `notify ${rule.name} severity`, key: "severity", value: rule.severity },
          ]);
    this.limit = new RateLimit(rule.rateCount, rule.ratePeriodMs);
  }

  deliver(batch: readonly OutRecord[]): Promise<void> {
    // one batch at a time through the worker: a batch over its budget then costs only itself
    const done = this.chain.then(() => this.check(batch));
    this.chain = done.catch(() => {});
    return done;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.heldTimer) clearTimeout(this.heldTimer);
    this.heldTimer = null;
    await this.worker?.terminate();
    this.worker = null;
  }

  private async check(batch: readonly OutRecord[]): Promise<void> {
    const candidates = batch.filter((r) => {
      // the alerts stream holds this rule's own notifications: never notify about those
      if (r.kind !== "." || (r.origin === COLLECTOR_ORIGIN && r.stream === "alerts")) return false;
      if (!this.severity) return true;
      const p = parseLine(r.line, 0, r.line.length);
      return p !== null && syslogMatches(this.severity, r.line, p);
    });
    if (candidates.length === 0) return;
    let matched = candidates;
    if (this.rule.pattern !== null) {
      const found = await this.test(candidates.map((r) => r.payload.toString("utf8")));
      if (found === null) {
        const a = candidates[0]!;
        const z = candidates.at(-1)!;
        const message = `notify ${this.rule.name}: its pattern ran over ${NOTIFY_BUDGET_MS} ms on ${candidates.length} records from ${a.origin}/${a.stream} seq ${a.seq} to ${z.origin}/${z.stream} seq ${z.seq}; they were not checked (simplify the pattern)`;
        this.host.log(message);
        this.host.count?.("unchecked", candidates.length);
        this.raise(a.origin, message);
        return;
      }
      matched = found.map((i) => candidates[i]!);
    }
    for (const r of matched) this.notify(r);
  }

  /** The indices of `payloads` the rule's expression matches, or null when the budget ran out. */
  private test(payloads: string[]): Promise<number[] | null> {
    this.worker ??= new Worker(WORKER, { workerData: { pattern: this.rule.pattern } });
    const worker = this.worker;
    const id = ++this.jobs;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        worker.off("message", onAnswer);
        void worker.terminate();
        if (this.worker === worker) this.worker = null;
        resolve(null);
      }, NOTIFY_BUDGET_MS);
      const onAnswer = (a: NotifyAnswer) => {
        if (a.id !== id) return;
        clearTimeout(timer);
        worker.off("message", onAnswer);
        resolve(a.matches);
      };
      worker.on("message", onAnswer);
      worker.postMessage({ id, payloads });
    });
  }

  private notify(r: OutRecord): void {
    if (this.held === 0 && this.limit.take()) {
      this.fire(r.origin, notifySummary(this.rule.name, r));
      return;
    }
    if (this.held === 0) this.heldSince = r.time;
    this.held++;
    this.host.count?.("held");
    this.heldLast = r;
    this.heldTimer ??= setTimeout(() => this.releaseHeld(), this.limit.wait());
  }

  /** Once the rate allows: one notification for every match held back. */
  private releaseHeld(): void {
    this.heldTimer = null;
    if (this.closed || this.held === 0) return;
    if (!this.limit.take()) {
      this.heldTimer = setTimeout(() => this.releaseHeld(), this.limit.wait());
      return;
    }
    const last = this.heldLast!;
    const { rateCount, ratePeriodMs } = this.rule;
    const text = `notify ${this.rule.name}: ${this.held} more matches since ${this.heldSince} were held back (rate ${rateCount} per ${ratePeriodMs / 1000} s); the last: ${notifySummary(this.rule.name, last).slice(`notify ${this.rule.name}: `.length)}`;
    this.held = 0;
    this.heldLast = null;
    this.fire(last.origin, text);
  }

  private fire(origin: string, summary: string): void {
    this.host.count?.("notified");
    this.raise(origin, summary);
    const child = spawn("sh", ["-c", this.rule.command], {
      stdio: ["pipe", "ignore", "pipe"],
      env: { ...process.env, LOGWARD_NOTIFY_RULE: this.rule.name },
      timeout: COMMAND_TIMEOUT_MS,
    });
    child.on("error", (err) =>
      this.host.log(`notify ${this.rule.name}: cannot run its command: ${err.message}`),
    );
    child.stdin.on("error", () => {});
    child.stdin.end(`${summary}\n`);
    let err = "";
    child.stderr.on("data", (d: Buffer) => {
      if (err.length < 400) err += d.toString("utf8", 0, Math.min(d.length, 400 - err.length));
    });
    child.on("close", (code, signal) => {
      if (code !== 0)
        this.host.log(
          `notify ${this.rule.name}: its command exited with ${code ?? signal}${err ? `: ${err.trim().replaceAll("\n", " | ")}` : ""}`,
        );
    });
  }
}
