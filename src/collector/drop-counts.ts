// What the collector dropped or refused, counted per origin and per listener so that `ls`, the
// UI and `logward alerts` can show it without reading `_logward/events`: datagrams dropped by
// the collector (backlog, quota, rate, a refused stream) and by the kernel (a UDP receive
// buffer that overflowed, /proc/net/udp), connections refused (a listener's or an origin's
// connection cap, failed TLS handshakes, bad headers) and refused messages.
//
// Kept in `<store>/run/drops.json` (written atomically, fsync'd, at most once a second when a
// count changed, and at stop), read back at start: the counts are totals since the store
// began, and they survive a restart or a kill -9 of serve (losing at most the last second).
// An origin's new drops raise one `dropped` alert a minute at most, summing them; at most
// MAX_ALERTS_AT_ONCE at a time, the rest summed in one (a flood of forged origins).

import {
  type DropCount,
  type DropState,
  dropStatePath,
  MAX_KEYS,
  readDropState,
} from "../store/drop-state.ts";
import { writeFileAtomic } from "../store/files.ts";

/** `dropped` alerts raised at once; more origins are summed in the last one. */
const MAX_ALERTS_AT_ONCE = 10;
/** One `dropped` alert per origin (or listener) in this long. */
const ALERT_EVERY_MS = 60_000;

export interface DropAlert {
  origin: string | null;
  listener: string | null;
  message: string;
}

/** The collector's counters, their state file and their alerts. */
export class DropCounts {
  private readonly path: string;
  readonly state: DropState;
  private dirty = false;
  private saving: Promise<void> = Promise.resolve();
  /** Counted since the last alert, by "o:<origin>" or "l:<listener>". */
  private readonly unalerted = new Map<string, { n: number; since: number; alertedAt: number }>();

  /** Entries of each table, so that a flood of new names costs no Object.keys per drop. */
  private readonly sizes = new Map<Record<string, DropCount>, number>();

  private constructor(path: string, state: DropState) {
    this.path = path;
    this.state = state;
    this.sizes.set(state.origins, Object.keys(state.origins).length);
    this.sizes.set(state.listeners, Object.keys(state.listeners).length);
  }

  static load(root: string): DropCounts {
    const state = readDropState(root) ?? {
      version: 1,
      origins: Object.create(null),
      listeners: Object.create(null),
    };
    return new DropCounts(dropStatePath(root), state);
  }

  /**
   * Counts `n` drops of `kind`: for `origin` when one is known (else only for the listener),
   * and for `listener` when one is named.
   */
  add(origin: string | null, listener: string | null, kind: string, n: number): void {
    if (!Number.isSafeInteger(n) || n <= 0) return;
    const now = new Date().toISOString();
    if (origin !== null && origin !== "-") this.bump(this.state.origins, origin, kind, n, now, "o:");
    if (listener !== null)
      this.bump(this.state.listeners, listener, kind, n, now, origin && origin !== "-" ? null : "l:");
    this.dirty = true;
  }

  private bump(
    table: Record<string, DropCount>,
    key: string,
    kind: string,
    n: number,
    now: string,
    alertPrefix: string | null,
  ): void {
    const k = Object.hasOwn(table, key) || (this.sizes.get(table) ?? 0) < MAX_KEYS ? key : "*";
    if (!Object.hasOwn(table, k)) {
      table[k] = { drops: 0, kinds: Object.create(null), last: now };
      this.sizes.set(table, (this.sizes.get(table) ?? 0) + 1);
    }
    const c = table[k]!;
    c.drops = Math.min(c.drops + n, Number.MAX_SAFE_INTEGER);
    const kk = Object.hasOwn(c.kinds, kind) || Object.keys(c.kinds).length < 64 ? kind : "other";
    c.kinds[kk] = Math.min((c.kinds[kk] ?? 0) + n, Number.MAX_SAFE_INTEGER);
    c.last = now;
    if (alertPrefix === null) return;
    const ak = `${alertPrefix}${k}`;
    const a = this.unalerted.get(ak);
    if (a) {
      if (a.n === 0) a.since = Date.now();
      a.n += n;
    } else if (this.unalerted.size < 2 * MAX_KEYS + 2)
      this.unalerted.set(ak, { n, since: Date.now(), alertedAt: 0 });
  }

  /** The alerts due now: one per origin or listener with new drops, at most once a minute each. */
  dueAlerts(): DropAlert[] {
    const now = Date.now();
    const out: DropAlert[] = [];
    for (const [key, a] of this.unalerted) {
      if (a.n === 0) {
        if (now - a.alertedAt >= ALERT_EVERY_MS) this.unalerted.delete(key);
        continue;
      }
      if (now - a.alertedAt < ALERT_EVERY_MS) continue;
      const name = key.slice(2);
      const isOrigin = key.startsWith("o:");
      const c = (isOrigin ? this.state.origins : this.state.listeners)[name];
      const kinds = c
        ? Object.entries(c.kinds)
            .map(([k, n]) => `${k} ${n}`)
            .join(", ")
        : "";
      out.push({
        origin: isOrigin ? name : null,
        listener: isOrigin ? null : name,
        message:
          `${a.n} dropped or refused ${isOrigin ? `from ${name}` : `on listener ${name}`} since ${new Date(a.since).toISOString()}` +
          ` (${c?.drops ?? a.n} in all: ${kinds}); see 'logward ls' and _logward/events`,
      });
      a.n = 0;
      a.alertedAt = now;
    }
    if (out.length <= MAX_ALERTS_AT_ONCE) return out;
    // many origins at once (forged addresses): a few named, the rest in one alert
    const rest = out.slice(MAX_ALERTS_AT_ONCE - 1);
    const total = rest.reduce((n, a) => n + Number(/^\d+/.exec(a.message)?.[0] ?? 0), 0);
    return [
      ...out.slice(0, MAX_ALERTS_AT_ONCE - 1),
      {
        origin: null,
        listener: null,
        message: `${total} more dropped or refused from ${rest.length} other origins or listeners; see 'logward ls' and _logward/events`,
      },
    ];
  }

  /** Writes the state file when a count changed (one write at a time). */
  save(): Promise<void> {
    if (!this.dirty) return this.saving;
    this.dirty = false;
    const text = `${JSON.stringify(this.state)}\n`;
    this.saving = this.saving
      .then(() => writeFileAtomic(this.path, text))
      .catch(() => {
        this.dirty = true; // tried again at the next tick
      });
    return this.saving;
  }
}
