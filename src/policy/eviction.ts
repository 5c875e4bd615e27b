// Removing what is oldest, shared by quotas (`drop-oldest`), retention and the collector's own
// records: which segment or object of a set of streams is oldest, and the `!evict` record each
// removal leaves in its stream (why, which group, which segment or object). An object lives as
// long as its `!blob` record: when a segment goes, so do the objects its records announced.

import { type ObjectInfo, objectFields } from "../store/objects.ts";
import { type SegmentMeta, segmentFields } from "../store/segment.ts";
import type { StreamWriter } from "../store/stream-writer.ts";
import type { Accounts } from "./accounts.ts";
import type { Alert } from "./alerts.ts";

export type EvictReason = "quota" | "retention";

/** What a removal pass (drop-oldest, retention) needs from the rest of the policy. */
export interface RemovalHost {
  readonly accounts: Accounts;
  raise(a: Alert): void;
  nowMs(): number;
  /** Something `ls` shows changed. */
  changed(): void;
  /** The policy is stopping: no new removal. */
  stopped(): boolean;
  /** Something was appended or space was made: look at this origin's quotas again. */
  noteAppend(origin: string): void;
}

/** `!evict` for one segment: which one, and why (and for which group's quota). */
export function recordEviction(w: StreamWriter, m: SegmentMeta, reason: EvictReason, group?: string): void {
  try {
    w.appendCollector("evict", `reason=${reason}${group ? ` group=${group}` : ""} ${segmentFields(m)}`);
  } catch {
    // the store is closing; the segment is gone either way
  }
}

/** `!evict` for one object: which one (seq of its `!blob`, SHA-256), and why. */
export function recordObjectEviction(
  w: StreamWriter,
  o: ObjectInfo,
  reason: EvictReason,
  group?: string,
): void {
  try {
    w.appendCollector("evict", `reason=${reason}${group ? ` group=${group}` : ""} ${objectFields(o)}`);
  } catch {
    // the store is closing; the object is gone either way
  }
}

/** Removes the stream's oldest sealed segment and records it; null when there is none. */
export async function removeOldestSegment(w: StreamWriter, reason: EvictReason): Promise<SegmentMeta | null> {
  const m = await w.removeOldestSealed();
  if (!m) return null;
  recordEviction(w, m, reason);
  return m;
}

/** Removes (and records) the objects announced by the records of segment `m`, just removed. */
export async function evictObjectsOf(
  w: StreamWriter,
  m: SegmentMeta,
  reason: EvictReason,
  group?: string,
): Promise<void> {
  for (let o = w.objects?.oldest(); o && o.seq <= m.lastSeq; o = w.objects?.oldest()) {
    const info = await w.objects!.removeOldest();
    if (!info) break;
    recordObjectEviction(w, info, reason, group);
  }
}

/**
 * The segment with the oldest first record among these streams, sealed or active; `newest`
 * says whether its stream is also the one holding the newest records.
 */
export function oldestSegment(
  writers: readonly StreamWriter[],
): { writer: StreamWriter; sealed: boolean; newest: boolean; first: string } | null {
  let best: { writer: StreamWriter; sealed: boolean; first: string } | null = null;
  let newestWriter: StreamWriter | null = null;
  let newestTime = "";
  for (const w of writers) {
    const m = w.sealed[0];
    const first = m ? m.firstTime : w.activeBytes > 0 ? w.activeFirstTime : null;
    if (first !== null && (best === null || first < best.first)) best = { writer: w, sealed: !!m, first };
    const last = w.activeBytes > 0 ? w.activeLastTime : (w.sealed.at(-1)?.lastTime ?? "");
    if (last > newestTime) {
      newestTime = last;
      newestWriter = w;
    }
  }
  return best
    ? { writer: best.writer, sealed: best.sealed, newest: best.writer === newestWriter, first: best.first }
    : null;
}

/** The object announced first among these streams (blob streams), if any. */
export function oldestObject(
  writers: readonly StreamWriter[],
): { writer: StreamWriter; time: string } | null {
  let best: { writer: StreamWriter; time: string } | null = null;
  for (const w of writers) {
    const first = w.objects?.oldest();
    if (first && (best === null || first.time < best.time)) best = { writer: w, time: first.time };
  }
  return best;
}
