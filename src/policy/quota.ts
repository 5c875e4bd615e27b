// Quota levels: where each account stands against its quota (0, 80 or 100 per cent), the
// alerts when it crosses a level, and what happens past it: `refuse` marks the account as
// refusing (the collector stops reading its origins) until it is within its quota again;
// `drop-oldest` hands it to the eviction runs.

import { formatBytes } from "../config/units.ts";
import type { Account, Accounts } from "./accounts.ts";
import type { Alert } from "./alerts.ts";

/** A crossing of the same level by the same account is alerted once in this long. */
const CROSSING_QUIET_MS = 15 * 60_000;

/** What the quota levels need from the rest of the policy. */
export interface QuotaHost {
  readonly accounts: Accounts;
  raise(a: Alert): void;
  nowMs(): number;
  /** Something `ls` shows changed. */
  changed(): void;
  /** An account may be read again: held sessions look again. */
  wake(): void;
  /** `drop-oldest`: remove the account's oldest records until it is within its quota. */
  evict(a: Account): void;
}

export class QuotaLevels {
  private readonly host: QuotaHost;
  /** When each account last crossed each level (`key@80`, `key@100`). */
  private readonly crossedAt = new Map<string, number>();
  /** Last alert level of each account: 0, 80 or 100 (per cent of its quota). */
  private readonly levels = new Map<string, number>();
  /** Keys of the accounts at quota with `refuse`. */
  readonly refusing = new Set<string>();

  constructor(host: QuotaHost) {
    this.host = host;
  }

  /** The account's last level: 0, 80 or 100. */
  levelOf(a: Account): number {
    return this.levels.get(a.key) ?? 0;
  }

  /** Looks at the account's usage now: alerts a crossed level, refuses, evicts or lets in again. */
  evaluate(a: Account): void {
    const used = this.host.accounts.usage(a);
    const before = this.levels.get(a.key) ?? 0;
    // a level goes down only below 80%: drop-oldest keeps an origin just under its quota, and
    // that must not raise an alert at every eviction
    let level = used >= a.quota ? 100 : used >= 0.8 * a.quota ? 80 : 0;
    if (level > 0 && level < before) level = before;
    if (level !== before) {
      this.levels.set(a.key, level);
      this.host.changed();
      this.alertCrossings(a, used, before, level);
    }
    if (used > a.quota) {
      if (a.onQuota === "drop-oldest") this.host.evict(a);
      else if (!this.refusing.has(a.key)) {
        this.refusing.add(a.key);
        this.host.changed();
        this.host.raise({
          kind: "refusing",
          ...a.label,
          message: `${a.who} is over its quota (${formatBytes(used)} of ${formatBytes(a.quota)}): the collector stops reading it; its sender keeps the records`,
        });
      }
    } else if (this.refusing.delete(a.key)) {
      this.host.changed();
      this.host.raise({
        kind: "accepting",
        ...a.label,
        message: `${a.who} is within its quota again; the collector reads it again`,
      });
      this.host.wake();
    }
  }

  /**
   * Compression and eviction move usage up and down around a threshold: a crossing is alerted
   * once per quarter of an hour per account and level, not each time. A burst can pass 80% and
   * 100% in one flush: each level crossed is alerted, in order.
   */
  private alertCrossings(a: Account, used: number, before: number, level: number): void {
    const now = this.host.nowMs();
    const quiet = (l: number) =>
      now - (this.crossedAt.get(`${a.key}@${l}`) ?? Number.NEGATIVE_INFINITY) < CROSSING_QUIET_MS;
    if (level >= 80 && before < 80 && !quiet(80)) {
      this.crossedAt.set(`${a.key}@80`, now);
      this.host.raise({
        kind: "quota-near",
        ...a.label,
        message: `${a.who} uses ${formatBytes(used)}, ${level === 100 ? "past " : ""}80% of its quota of ${formatBytes(a.quota)}`,
      });
    }
    if (level === 100 && !quiet(100)) {
      this.crossedAt.set(`${a.key}@100`, now);
      this.host.raise({
        kind: "quota-reached",
        ...a.label,
        message: `${a.who} reached its quota of ${formatBytes(a.quota)}; ${a.onQuota === "refuse" ? "its records are refused until space is made" : "its oldest records are removed"}`,
      });
    }
  }
}
