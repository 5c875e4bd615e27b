// Rate limits: one token bucket per origin (records per second, a burst of one second's worth).
// Over the limit nothing is dropped: the caller is told how long the origin's sessions should
// wait, and a `rate-limited` alert goes out once a minute per origin at most.

import type { Alert } from "./alerts.ts";

/** Alerts raised about one origin's rate: once a minute at most. */
const RATE_ALERT_EVERY_MS = 60_000;

interface Bucket {
  tokens: number;
  last: number;
  alertedAt: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly raise: (a: Alert) => void;
  private readonly nowMs: () => number;

  constructor(raise: (a: Alert) => void, nowMs: () => number) {
    this.raise = raise;
    this.nowMs = nowMs;
  }

  /** A new configuration: every bucket starts full again. */
  clear(): void {
    this.buckets.clear();
  }

  /** `records` just accepted from `origin` at `rate`/s (null: none): milliseconds to wait. */
  take(origin: string, rate: number | null, records: number): number {
    if (rate === null || records === 0) return 0;
    const now = this.nowMs();
    let b = this.buckets.get(origin);
    if (!b) {
      b = { tokens: Math.max(rate, 1), last: now, alertedAt: 0 };
      this.buckets.set(origin, b);
    }
    b.tokens = Math.min(Math.max(rate, 1), b.tokens + ((now - b.last) / 1000) * rate);
    b.last = now;
    b.tokens -= records;
    if (b.tokens >= 0) return 0;
    if (now - b.alertedAt > RATE_ALERT_EVERY_MS) {
      b.alertedAt = now;
      this.raise({
        kind: "rate-limited",
        origin,
        message: `${origin} sends faster than its limit of ${rate} records/s; the collector slows it down (nothing is dropped)`,
      });
    }
    return Math.ceil((-b.tokens / rate) * 1000);
  }
}
