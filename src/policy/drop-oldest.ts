// `on_quota = "drop-oldest"`: an account over its quota loses its oldest segments (and the
// objects they announced) until it is within it again, one eviction run per account at a time.
// What went is summed into one `evicted` alert per account a minute at most.

import { formatBytes } from "../config/units.ts";
import type { SegmentMeta } from "../store/segment.ts";
import type { Store } from "../store/store.ts";
import type { Account } from "./accounts.ts";
import {
  evictObjectsOf,
  oldestObject,
  oldestSegment,
  type RemovalHost,
  recordEviction,
  recordObjectEviction,
} from "./eviction.ts";

/** What the eviction runs need from the rest of the policy: a removal host with the store. */
export interface DropOldestHost extends RemovalHost {
  readonly store: Store;
}

/** What went from one account is summed into one `evicted` alert this often at most. */
const EVICTED_ALERT_EVERY_MS = 60_000;

interface Evicted {
  at: number;
  records: number;
  segments: number;
  bytes: number;
}

export class DropOldest {
  private readonly host: DropOldestHost;
  private readonly evicting = new Map<string, Promise<void>>();
  /** Evictions not yet reported, per account: one alert a minute at most. */
  private readonly evictedSince = new Map<string, Evicted>();

  constructor(host: DropOldestHost) {
    this.host = host;
  }

  /** Resolves when every eviction run has ended. */
  async idle(): Promise<void> {
    await Promise.all(this.evicting.values());
  }

  /**
   * Removes the account's oldest segments until it is within its quota. Oldest by first record
   * across all its streams, sealed or active (an idle origin's active segment may hold the
   * group's oldest records); only the segment being written with the newest records may stay,
   * up to one segment over the quota.
   */
  evict(a: Account): void {
    if (this.evicting.has(a.key)) return;
    const { store, accounts } = this.host;
    const run = (async () => {
      const waited = new Set<SegmentMeta>(); // waited for once already: not compressed (an error)
      while (!this.host.stopped() && accounts.usage(a) > a.quota) {
        // sealed segments waiting for compression count at their plain size: in a burst there
        // are many, and evicting for all of them would leave the account far under its quota
        // once they are compressed (a 1 MiB quota kept 81 KiB). While compressing them could
        // bring it within the quota, wait for that rather than remove older records.
        const pending = this.awaitingCompression(a, waited);
        if (pending.bytes > 0 && accounts.usage(a) - a.quota <= pending.bytes) {
          for (const m of pending.metas) waited.add(m);
          await store.compressionIdle();
          continue;
        }
        const pick = oldestSegment(accounts.writersOf(a.origins()));
        // an object older than the oldest segment goes first (blob streams)
        const obj = oldestObject(accounts.writersOf(a.origins()));
        // (or when the oldest segment is the one being written: a blob stream's records are few)
        if (obj && (!pick?.sealed || obj.time <= pick.first)) {
          const info = await obj.writer.objects!.removeOldest();
          if (info) {
            recordObjectEviction(obj.writer, info, "quota", a.label.group);
            const e = this.evictedOf(a);
            e.segments++;
            e.bytes += info.stored;
            continue;
          }
        }
        if (!pick) break;
        const w = pick.writer;
        if (!pick.sealed) {
          const slack = accounts.usage(a) <= a.quota + store.options.maxSegmentBytes;
          if (slack && pick.newest) break;
          await w.requestSeal();
          if (w.sealed.length === 0) break; // not sealed (a write error): try again later
        }
        const meta = await w.removeOldestSealed();
        if (!meta) break;
        recordEviction(w, meta, "quota", a.label.group);
        await evictObjectsOf(w, meta, "quota", a.label.group);
        const e = this.evictedOf(a);
        e.records += meta.records;
        e.segments++;
        e.bytes += meta.bytes;
      }
      this.report(a, false);
    })().finally(() => {
      this.evicting.delete(a.key);
      // more may have arrived meanwhile
      for (const o of a.origins()) this.host.noteAppend(o);
    });
    this.evicting.set(a.key, run);
  }

  /** One `evicted` alert per account a minute at most (`force`: now), summing what went since. */
  report(a: Account, force: boolean): void {
    const e = this.evictedSince.get(a.key);
    if (!e || e.segments === 0) return;
    const now = this.host.nowMs();
    if (!force && now - e.at < EVICTED_ALERT_EVERY_MS) return;
    this.evictedSince.set(a.key, { at: now, records: 0, segments: 0, bytes: 0 });
    this.host.changed();
    this.host.raise({
      kind: "evicted",
      ...a.label,
      message: `removed ${e.records} records (${e.segments} segments, ${formatBytes(e.bytes)}) of ${a.who}, the oldest, to stay within its quota of ${formatBytes(a.quota)}`,
    });
  }

  /** The account's evictions not yet reported (an entry made on first use). */
  private evictedOf(a: Account): Evicted {
    let e = this.evictedSince.get(a.key);
    if (!e) {
      e = { at: 0, records: 0, segments: 0, bytes: 0 };
      this.evictedSince.set(a.key, e);
    }
    return e;
  }

  /** Sealed segments of the account still to be compressed (not yet waited for) and their bytes. */
  private awaitingCompression(a: Account, waited: Set<SegmentMeta>): { metas: SegmentMeta[]; bytes: number } {
    const metas: SegmentMeta[] = [];
    let bytes = 0;
    if (!this.host.store.options.compress) return { metas, bytes };
    for (const w of this.host.accounts.writersOf(a.origins()))
      for (const m of w.sealed)
        if (!m.compressed && !waited.has(m)) {
          metas.push(m);
          bytes += m.bytes;
        }
    return { metas, bytes };
  }
}
