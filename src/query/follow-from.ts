// Where a follow starts in each stream (`show -f`, `search -f`, the web UI's live tail): the
// streams' ends are taken before any history is read, so a record stored while the history is
// printed is followed, not lost; the rule for the first sequence number lives here once.
// Kept apart from follow.ts so that a plain `show` does not load the watchers.

import { type StreamRef, streamSegments } from "../store/read.ts";

/** A stream to follow and the first sequence number to print. */
export interface FollowStart {
  ref: StreamRef;
  nextSeq: number;
}

const key = (r: StreamRef): string => `${r.origin}/${r.stream}`;

/** "origin/stream" -> the stream's last sequence number now (0 when it is empty). */
export async function streamEnds(root: string, refs: readonly StreamRef[]): Promise<Map<string, number>> {
  const ends = new Map<string, number>();
  for (const r of refs)
    ends.set(key(r), (await streamSegments(root, r.origin, r.stream)).at(-1)?.lastSeq ?? 0);
  return ends;
}

/** Where to start; without any of these, after each stream's end (new records only). */
export interface FollowFrom {
  /** The last `tail` records of each stream first (`show -f` without --since). */
  tail?: number;
  /** After this sequence number in every stream (the web UI's `after`). */
  after?: number;
  /** "origin/stream" -> the last sequence number a history printed: after it, or after the end if that is later. */
  printed?: ReadonlyMap<string, number>;
}

/** The first sequence number to follow in each stream, given the ends `streamEnds` took. */
export function followStarts(
  refs: readonly StreamRef[],
  ends: ReadonlyMap<string, number>,
  from: FollowFrom = {},
): FollowStart[] {
  return refs.map((ref) => {
    const last = ends.get(key(ref)) ?? 0;
    if (from.tail !== undefined) return { ref, nextSeq: Math.max(1, last - from.tail + 1) };
    if (from.after !== undefined) return { ref, nextSeq: from.after + 1 };
    return { ref, nextSeq: Math.max(from.printed?.get(key(ref)) ?? last, last) + 1 };
  });
}
