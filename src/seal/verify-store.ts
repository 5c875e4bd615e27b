// A whole store's verification (`logward verify`): every stream through verify.ts, then what
// only a checkpoint can show (docs/SEALS.md): each stream it names must still reach the seal it
// names, with the same MAC, unless `_logward/deletions` records that the stream was deleted or
// its `!evict` records that the sealed records were removed by policy.

import { COLLECTOR_ORIGIN } from "../store/names.ts";
import { listStreams, readStreamLines, streamSegments } from "../store/read.ts";
import type { Checkpoint } from "./checkpoint.ts";
import type { KeyDeriver } from "./key.ts";
import { type Problem, StoreVerifier, type StreamReport } from "./verify.ts";

export interface StoreReport {
  streams: StreamReport[];
  /** The first problem found (streams in name order, then the checkpoint). */
  problem: Problem | null;
  /**
   * Checkpoint entries satisfied, and those whose stream was deleted or evicted on record;
   * `after`: records stored after the seals it names, which it does not vouch for (whoever
   * holds the sealing key since, a thief too, can have written them).
   */
  checkpoint: { entries: number; reached: number; deleted: number; evicted: number; after: number } | null;
  bytes: number;
}

/** Streams `rm` deleted whole, from `_logward/deletions` (`deleted=ORIGIN/STREAM … before=all`). */
async function deletedStreams(root: string): Promise<Set<string>> {
  const out = new Set<string>();
  try {
    for await (const block of readStreamLines(root, COLLECTOR_ORIGIN, "deletions")) {
      for (const m of block.toString("latin1").matchAll(/ !note deleted=([^ \n]+) [^\n]*before=all/g))
        out.add(m[1]!);
    }
  } catch {
    // no trail: nothing was deleted (or it is gone, which verify reports as a missing stream)
  }
  return out;
}

export async function verifyStore(
  root: string,
  keys: KeyDeriver,
  checkpoint: Checkpoint | null,
  onProgress: (total: number, n: number) => void = () => {},
  allowLate = false,
): Promise<StoreReport> {
  const refs = await listStreams(root);
  let total = 0;
  for (const ref of refs)
    for (const seg of await streamSegments(root, ref.origin, ref.stream)) total += seg.rawBytes;
  let bytes = 0;
  const verifier = new StoreVerifier(
    root,
    keys,
    (n) => {
      bytes += n;
      onProgress(total, n);
    },
    allowLate,
  );
  const wanted = new Map<string, Set<number>>();
  for (const e of checkpoint?.streams ?? []) {
    const key = `${e.origin}/${e.stream}`;
    if (!wanted.has(key)) wanted.set(key, new Set());
    wanted.get(key)!.add(e.seq);
  }
  const report: StoreReport = { streams: [], problem: null, checkpoint: null, bytes: 0 };
  for (const ref of refs) {
    const r = await verifier.stream(ref.origin, ref.stream, wanted.get(`${ref.origin}/${ref.stream}`));
    report.streams.push(r);
    report.problem ??= r.problem;
  }
  report.bytes = bytes;
  if (!checkpoint) return report;
  const deleted = await deletedStreams(root);
  const byName = new Map(report.streams.map((r) => [`${r.origin}/${r.stream}`, r]));
  const c = { entries: checkpoint.streams.length, reached: 0, deleted: 0, evicted: 0, after: 0 };
  report.checkpoint = c;
  for (const e of checkpoint.streams) {
    const name = `${e.origin}/${e.stream}`;
    const r = byName.get(name);
    const fail = (why: Problem["why"], detail: string) => {
      report.problem ??= {
        origin: e.origin,
        stream: e.stream,
        segment: "",
        from: e.seq,
        to: e.seq,
        why,
        detail,
      };
    };
    if (r?.watched.get(e.seq) === e.mac) {
      c.reached++;
      c.after += Math.max(0, r.lastSeq - e.seq);
    } else if (deleted.has(name)) {
      c.deleted++; // deleted with `rm` (and perhaps written anew since), on record
    } else if (!r) {
      fail(
        "missing",
        `the stream is gone: the checkpoint of ${checkpoint.created} names its seal at seq ${e.seq}, and _logward/deletions records no deletion`,
      );
    } else if (r.problem) {
      // reported already
    } else if (r.removed && e.seq <= r.removed.through) {
      c.evicted++;
    } else if (r.watched.has(e.seq)) {
      fail(
        "forged",
        `the seal at seq ${e.seq} is not the one the checkpoint of ${checkpoint.created} names (another MAC)`,
      );
    } else if (!r.lastSeal || r.lastSeal.seq < e.seq) {
      fail(
        "truncated",
        `the stream ends at ${r.lastSeal ? `the seal at seq ${r.lastSeal.seq}` : "no seal"} (last record ${r.lastSeq}), but the checkpoint of ${checkpoint.created} names its seal at seq ${e.seq}: newer records were cut off`,
      );
    } else {
      fail(
        "missing",
        `the seal at seq ${e.seq} that the checkpoint of ${checkpoint.created} names is not in the stream`,
      );
    }
  }
  // streams the checkpoint does not name began after it: it vouches for none of their records
  const named = new Set(checkpoint.streams.map((e) => `${e.origin}/${e.stream}`));
  for (const r of report.streams) if (!named.has(`${r.origin}/${r.stream}`)) c.after += r.records;
  return report;
}
