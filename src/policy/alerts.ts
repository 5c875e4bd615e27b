// Alerts: stored durably in the collector's own origin (`_logward/alerts`, one `!note` record
// each, `alert=<kind> origin=<name> ... message="..."`), and passed to `alert_command` with the
// text as its last argument. The command is rate-limited (a token bucket: at most 6 runs a
// minute) so that an alert storm cannot become a process storm; alerts held back are counted
// and the next run says how many.

import { execFile } from "node:child_process";
import { kvValue } from "../store/kv.ts";
import type { StreamWriter } from "../store/stream-writer.ts";

export const ALERT_KINDS = [
  "quota-near",
  "quota-reached",
  "evicted",
  "refusing",
  "accepting",
  "rate-limited",
  "disk-reserve",
  "disk-ok",
  "retention",
  "reload",
  "reload-failed",
  "blob-refused",
  "stream-limit",
  "notify",
  "dropped",
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export interface Alert {
  kind: AlertKind;
  origin?: string;
  group?: string;
  message: string;
}

const RUNS_PER_MINUTE = 6;

export class Alerts {
  private readonly stream: StreamWriter;
  private command: readonly string[] | null;
  private tokens = RUNS_PER_MINUTE;
  private lastRefill = Date.now();
  private heldBack = 0;
  /** Alerts raised (for tests and the state file). */
  count = 0;

  constructor(stream: StreamWriter, command: readonly string[] | null) {
    this.stream = stream;
    this.command = command;
  }

  setCommand(command: readonly string[] | null): void {
    this.command = command;
  }

  raise(a: Alert): void {
    this.count++;
    const fields = [`alert=${a.kind}`];
    if (a.origin) fields.push(`origin=${kvValue(a.origin)}`);
    if (a.group) fields.push(`group=${kvValue(a.group)}`);
    fields.push(`message=${kvValue(a.message)}`);
    try {
      this.stream.appendCollector("note", fields.join(" "));
    } catch {
      // the store is closing or failed; the command below still tells someone
    }
    this.notify(`${a.kind}${a.origin ? ` ${a.origin}` : a.group ? ` group ${a.group}` : ""}: ${a.message}`);
  }

  private notify(text: string): void {
    if (!this.command) return;
    const now = Date.now();
    this.tokens = Math.min(
      RUNS_PER_MINUTE,
      this.tokens + ((now - this.lastRefill) / 60_000) * RUNS_PER_MINUTE,
    );
    this.lastRefill = now;
    if (this.tokens < 1) {
      this.heldBack++;
      return;
    }
    this.tokens--;
    const more =
      this.heldBack > 0 ? ` (and ${this.heldBack} more alerts held back; see 'logward alerts')` : "";
    this.heldBack = 0;
    const [cmd, ...args] = this.command;
    execFile(cmd!, [...args, `logward: ${text}${more}`], { timeout: 30_000 }, () => {
      // a failing notifier must not take the collector down; the alert is stored anyway
    });
  }
}
