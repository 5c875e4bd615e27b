// `ls`: one summary per origin/stream, built from segment indexes and the active segment's
// first and last lines; no record is read otherwise.

import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { objectsDir, SHA256_RE } from "../store/layout.ts";
import { streamDir } from "../store/names.ts";
import type { OriginPolicyState } from "../store/policy-state.ts";
import { listStreams, streamSegments } from "../store/read.ts";

export interface StreamSummary {
  origin: string;
  stream: string;
  records: number;
  /** Bytes on disk of all segments (compressed ones at their compressed size). */
  bytes: number;
  first: string;
  last: string;
  segments: number;
  compressedSegments: number;
  firstSeq: number;
  lastSeq: number;
  /** Opaque objects stored (blob streams) and their compressed bytes (also in `bytes`). */
  objects: number;
  objectBytes: number;
}

/** Objects stored in a stream's `objects/` and their bytes on disk, from the directory alone. */
export async function countObjects(
  root: string,
  origin: string,
  stream: string,
): Promise<{ count: number; bytes: number }> {
  const dir = objectsDir(streamDir(root, origin, stream));
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return { count: 0, bytes: 0 };
  }
  let count = 0;
  let bytes = 0;
  for (const name of names) {
    if (!name.endsWith(".zst") || !SHA256_RE.test(name.slice(0, -4))) continue;
    const st = await stat(join(dir, name)).catch(() => null);
    if (!st) continue;
    count++;
    bytes += st.size;
  }
  return { count, bytes };
}

export async function summarizeStreams(root: string): Promise<StreamSummary[]> {
  const out: StreamSummary[] = [];
  for (const { origin, stream } of await listStreams(root)) {
    const segs = await streamSegments(root, origin, stream);
    if (segs.length === 0) continue;
    const first = segs[0]!;
    const last = segs.at(-1)!;
    const objects = await countObjects(root, origin, stream);
    out.push({
      origin,
      stream,
      records: segs.reduce((n, s) => n + s.records, 0),
      bytes: segs.reduce((n, s) => n + s.bytes, 0) + objects.bytes,
      first: first.firstTime,
      last: last.lastTime,
      segments: segs.length,
      compressedSegments: segs.filter((s) => s.compressed).length,
      firstSeq: first.firstSeq,
      lastSeq: last.lastSeq,
      objects: objects.count,
      objectBytes: objects.bytes,
    });
  }
  return out;
}

/** A summary as `ls --json` and the web UI's /api/origins give it, with the origin's quota state. */
export function summaryJson(r: StreamSummary, policy: OriginPolicyState | undefined) {
  return {
    origin: r.origin,
    stream: r.stream,
    records: r.records,
    bytes: r.bytes,
    first: r.first,
    last: r.last,
    segments: r.segments,
    compressed_segments: r.compressedSegments,
    first_seq: r.firstSeq,
    last_seq: r.lastSeq,
    objects: r.objects,
    object_bytes: r.objectBytes,
    state: policy?.state ?? null,
    origin_bytes: policy?.bytes ?? null,
    quota: policy?.quota ?? null,
    group: policy?.group ?? null,
  };
}
