// Events a sender can cause over and over (a refusal, a session's error, a refused blob's
// alert): the first of its origin and kind in a minute is written at once, the others only
// counted, and when the minute is over one more record (`repeated=N since=T`) or alert ("and N
// more like it") sums them. So a flood adds at most two records per origin and kind a minute
// to `_logward/events` or `_logward/alerts`.

import type { Alert } from "../policy/alerts.ts";

/** Events of one origin and kind written in full once per window; the rest only counted. */
const REPEAT_WINDOW_MS = 60_000;
/** Origin/kind pairs counted at once; beyond, repeats are counted under origin "*". */
const MAX_REPEAT_KEYS = 1024;

type Fields = Record<string, string | number>;

interface Repeat {
  name: string;
  since: number;
  count: number;
  fields: Fields;
}

export class RepeatedEvents {
  /** Repeatable events of the current window, by name|origin|kind (alerts: alert|origin). */
  private readonly repeats = new Map<string, Repeat>();
  private readonly event: (name: string, fields: Fields) => void;
  private readonly raise: (a: Alert) => void;
  private readonly count: ((name: string, origin: string, kind: string, fields: Fields) => void) | null;

  /**
   * `event` writes one of the collector's own events; `raise` raises an alert; `count`, when
   * given, sees every event, written or only counted (the drop counters, drop-counts.ts).
   */
  constructor(
    event: (name: string, fields: Fields) => void,
    raise: (a: Alert) => void,
    count: ((name: string, origin: string, kind: string, fields: Fields) => void) | null = null,
  ) {
    this.event = event;
    this.raise = raise;
    this.count = count;
  }

  /**
   * An event of `origin` and `kind` (written now when it is the first of its window). True when
   * it was written now, so that a caller can say it elsewhere (stderr) as seldom.
   */
  note(name: string, origin: string, kind: string, fields: Fields): boolean {
    this.count?.(name, origin, kind, fields);
    let key = `${name}|${origin}|${kind}`;
    let f = fields;
    if (!this.repeats.has(key) && this.repeats.size >= MAX_REPEAT_KEYS) {
      key = `${name}|*|${kind}`;
      f = { ...fields, origin: "*" };
    }
    const r = this.repeats.get(key);
    if (r) {
      r.count++;
      r.fields = f;
      return false;
    }
    this.repeats.set(key, { name, since: Date.now(), count: 0, fields: f });
    this.event(name, f);
    return true;
  }

  /** A blob-refused alert about `origin` (raised now when it is the first of its window). */
  alert(origin: string, message: string): void {
    this.count?.("blob-refused", origin, "blob-refused", {});
    const key = this.repeats.size >= MAX_REPEAT_KEYS ? "alert|*" : `alert|${origin}`;
    const r = this.repeats.get(key);
    if (r) {
      r.count++;
      r.fields = { origin, message };
      return;
    }
    this.repeats.set(key, { name: "alert", since: Date.now(), count: 0, fields: { origin, message } });
    this.raise({ kind: "blob-refused", origin, message });
  }

  /** Writes the counts of the windows that are over (all of them when `all`). */
  flush(all: boolean): void {
    const now = Date.now();
    for (const [key, r] of this.repeats) {
      if (!all && now - r.since < REPEAT_WINDOW_MS) continue;
      this.repeats.delete(key);
      if (r.count === 0) continue;
      if (r.name === "alert") {
        const { origin, message } = r.fields as { origin: string; message: string };
        this.raise({
          kind: "blob-refused",
          ...(key === "alert|*" ? {} : { origin }),
          message: `${message} (and ${r.count} more like it since ${new Date(r.since).toISOString()})`,
        });
        continue;
      }
      const { reason, ...rest } = r.fields;
      this.event(r.name, {
        ...rest,
        repeated: r.count,
        since: new Date(r.since).toISOString(),
        ...(reason === undefined ? {} : { reason }),
      });
    }
  }
}
