// Retention by age: an origin with `retention` loses the sealed segments whose newest record
// is older than that (by the collector's clock), and the objects announced before it, each
// removal an `!evict` in its stream and one `retention` alert per origin and pass.

import { parseTime } from "../store/record.ts";
import { evictObjectsOf, type RemovalHost, recordEviction, recordObjectEviction } from "./eviction.ts";

/** How often retention runs (and once at start). */
export const RETENTION_EVERY_MS = 60_000;

/** What a retention pass needs from the rest of the policy. */
export type RetentionHost = RemovalHost;

/** "14 days", or "30 s" for a retention shorter than half a day. */
function retentionText(keepMs: number): string {
  const days = Math.round(keepMs / 86400_000);
  return days >= 1 ? `${days} days` : `${Math.round(keepMs / 1000)} s`;
}

/** One pass over every origin with a retention. */
export async function applyRetention(host: RetentionHost): Promise<void> {
  const now = host.nowMs();
  for (const [origin, writers] of host.accounts.entries()) {
    const keep = host.accounts.rule(origin).retentionMs;
    if (keep === null) continue;
    const cutoffUs = (now - keep) * 1000;
    let records = 0;
    for (const w of writers) {
      while (!host.stopped() && w.sealed[0] && parseTime(w.sealed[0].lastTime) < cutoffUs) {
        const meta = await w.removeOldestSealed();
        if (!meta) break;
        records += meta.records;
        recordEviction(w, meta, "retention");
        await evictObjectsOf(w, meta, "retention");
      }
      // objects announced before the cutoff
      for (
        let o = w.objects?.oldest();
        !host.stopped() && o && parseTime(o.time) < cutoffUs;
        o = w.objects?.oldest()
      ) {
        const info = await w.objects!.removeOldest();
        if (!info) break;
        records++;
        recordObjectEviction(w, info, "retention");
      }
      // an active segment whose first record is already too old is sealed, to go next time
      const first = w.activeFirstTimeUs();
      if (first !== null && first < cutoffUs) void w.requestSeal();
    }
    if (records > 0) {
      host.changed();
      host.raise({
        kind: "retention",
        origin,
        message: `removed ${records} records of ${origin} older than its retention of ${retentionText(keep)}`,
      });
      host.noteAppend(origin);
    }
  }
}
