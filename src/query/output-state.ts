// What the outputs' runner last said about each output (`<store>/run/outputs.json`, format in
// store/output-state.ts), with the lag worked out against the streams as they are now: `ls`
// and the web UI show it without asking the daemon. Missing or unreadable means no outputs
// known, never an error: the store is readable without a collector.

import { readFileSyncNoFollow } from "../store/files.ts";
import { outputStatePath } from "../store/layout.ts";
import { type OutputsState, parseOutputsState } from "../store/output-state.ts";
import { parseTime } from "../store/record.ts";
import type { StreamSummary } from "./summary.ts";

/** One output as `ls` and the UI show it. */
export interface OutputRow {
  name: string;
  type: string;
  match: string;
  status: string;
  /** Streams it has a cursor in. */
  streams: number;
  /** Records acknowledged in all streams (the sum of the cursors' seqs). */
  position: number;
  /** Records stored but not yet acknowledged, in all its streams. */
  lagRecords: number;
  /** Receive time of the newest stored record minus that of the newest acknowledged one, in the worst stream. */
  lagSeconds: number | null;
  restarts: number;
  lastError: string | null;
  lastErrorAt: string | null;
  /** Its destination's counters (store/output-state.ts), when it keeps any. */
  counts?: Record<string, number>;
}

/** The state file's document, or null when there is none or it cannot be read. */
export function readOutputsState(root: string): OutputsState | null {
  try {
    return parseOutputsState(readFileSyncNoFollow(outputStatePath(root), "utf8"));
  } catch {
    return null;
  }
}

/** Each output's row, its lag measured against `streams` (summarizeStreams). */
export function outputRows(state: OutputsState | null, streams: readonly StreamSummary[]): OutputRow[] {
  if (!state) return [];
  const byKey = new Map(streams.map((s) => [`${s.origin}/${s.stream}`, s]));
  return state.outputs.map((o) => {
    let position = 0;
    let lagRecords = 0;
    let lagSeconds: number | null = 0;
    const entries = Object.entries(o.streams ?? {});
    for (const [key, p] of entries) {
      position += p.seq;
      const s = byKey.get(key);
      if (!s || s.lastSeq <= p.seq) continue;
      lagRecords += s.lastSeq - p.seq;
      // nothing acknowledged yet: behind by everything stored
      const since = p.seq === 0 ? s.first : p.time;
      const behind = since ? (parseTime(s.last) - parseTime(since)) / 1e6 : null;
      lagSeconds = behind === null || lagSeconds === null ? null : Math.max(lagSeconds, Math.round(behind));
    }
    return {
      name: o.name,
      type: o.type,
      match: o.match,
      status: o.status,
      streams: entries.length,
      position,
      lagRecords,
      lagSeconds,
      restarts: o.restarts,
      lastError: o.lastError,
      lastErrorAt: o.lastErrorAt,
      ...(o.counts && typeof o.counts === "object" ? { counts: o.counts } : {}),
    };
  });
}

/** The row as JSON (`ls --outputs --json`, the web UI): snake_case like the rest of `ls`. */
export function outputJson(r: OutputRow): Record<string, unknown> {
  return {
    name: r.name,
    type: r.type,
    match: r.match,
    status: r.status,
    streams: r.streams,
    position: r.position,
    lag_records: r.lagRecords,
    lag_seconds: r.lagSeconds,
    restarts: r.restarts,
    last_error: r.lastError,
    last_error_at: r.lastErrorAt,
    ...(r.counts ? { counts: r.counts } : {}),
  };
}
