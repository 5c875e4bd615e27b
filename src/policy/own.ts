// The collector's own records (origin `_logward`) are bounded too: `events` and `alerts` keep at
// most `own_quota` bytes on disk each (plus the segment being written) and nothing older than
// `own_retention`; their oldest sealed segments go first, each removal an `!evict` in that
// stream. `deletions`, the trail of what `logward rm` removed, is never removed: only an admin
// adds to it, and past `deletions_warn` bytes an alert says so.

import { formatBytes } from "../config/units.ts";
import { exists } from "../store/files.ts";
import { COLLECTOR_ORIGIN, streamDir } from "../store/names.ts";
import { parseTime } from "../store/record.ts";
import type { Store } from "../store/store.ts";
import type { Alerts } from "./alerts.ts";
import { removeOldestSegment } from "./eviction.ts";

export interface OwnLimits {
  readonly quotaBytes: number;
  readonly retentionMs: number;
  readonly deletionsWarnBytes: number;
}

/** The streams of `_logward` that may be trimmed; every other one (deletions) is kept whole. */
export const TRIMMED_OWN_STREAMS: readonly string[] = ["events", "alerts"];

export class OwnRecords {
  private readonly store: Store;
  private readonly alerts: Alerts;
  private readonly limits: OwnLimits;
  private running: Promise<void> | null = null;
  private warned = false;

  constructor(store: Store, alerts: Alerts, limits: OwnLimits) {
    this.store = store;
    this.alerts = alerts;
    this.limits = limits;
  }

  /** One pass (at start, then once a minute); a pass still running is not started twice. */
  run(): Promise<void> {
    if (!this.running) this.running = this.pass().finally(() => (this.running = null));
    return this.running;
  }

  /** Resolves when no pass is running (before the store closes). */
  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  private async pass(): Promise<void> {
    const cutoffUs = this.store.nowUs() - this.limits.retentionMs * 1000;
    for (const name of TRIMMED_OWN_STREAMS) {
      const w = await this.store.stream(COLLECTOR_ORIGIN, name);
      while (w.sealed[0] && parseTime(w.sealed[0].lastTime) < cutoffUs) {
        if (!(await removeOldestSegment(w, "retention"))) break;
      }
      // an active segment whose first record is already too old is sealed, to go next time
      const first = w.activeFirstTimeUs();
      if (first !== null && first < cutoffUs) void w.requestSeal();
      while (w.sealed.length > 0 && w.diskBytes() > this.limits.quotaBytes) {
        if (!(await removeOldestSegment(w, "quota"))) break;
      }
    }
    if (!(await exists(streamDir(this.store.root, COLLECTOR_ORIGIN, "deletions")))) return;
    const used = (await this.store.stream(COLLECTOR_ORIGIN, "deletions")).diskBytes();
    const warn = this.limits.deletionsWarnBytes;
    if (used >= warn && !this.warned) {
      this.warned = true;
      this.alerts.raise({
        kind: "quota-near",
        origin: COLLECTOR_ORIGIN,
        message: `${COLLECTOR_ORIGIN}/deletions, the trail of deletions, holds ${formatBytes(used)}, more than deletions_warn (${formatBytes(warn)}); it is never removed, so make room or raise the setting`,
      });
    } else if (used < 0.8 * warn) this.warned = false;
  }
}
