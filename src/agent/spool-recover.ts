// Opening a spool after a stop or a crash: which of its segments' bytes can be trusted. A
// commit is its entries and then a checkpoint, so each segment is kept up to its last
// checkpoint; a torn tail is cut, and every segment after a damaged one goes (nothing after it
// can be trusted to be in order). Separate from `spool.ts` because it runs once, before the
// commit state machine exists, and shares nothing with it but the entry format.

import { closeSync, fdatasyncSync, ftruncateSync, openSync, readdirSync, readFileSync } from "node:fs";
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import { fsyncDir } from "../store/files.ts";
import {
  type Entry,
  entrySeq,
  isRecordEntry,
  isSegmentName,
  parseEntries,
  type Segment,
  T_CHECK,
} from "./spool-format.ts";

export interface RecoveredSegments {
  /** The segments kept, oldest first, with their durable sizes. */
  segments: Segment[];
  /** Records in them (R and U entries). */
  records: number;
  /** Their bytes on disk. */
  bytes: number;
}

/**
 * Reads every segment of `dir`, cuts a torn tail, removes leftovers (`*.tmp`, empty or
 * untrusted segments), and applies every kept checkpoint to `positions`, oldest first.
 */
export async function recoverSegments(
  dir: string,
  positions: Record<string, unknown>,
): Promise<RecoveredSegments> {
  const out: RecoveredSegments = { segments: [], records: 0, bytes: 0 };
  const names = readdirSync(dir).filter(isSegmentName).sort();
  for (const name of readdirSync(dir)) if (name.endsWith(".tmp")) await unlink(join(dir, name));
  let cut = false;
  for (const name of names) {
    const path = join(dir, name);
    if (cut) {
      await unlink(path); // after a damaged segment nothing can be trusted to be in order
      continue;
    }
    const firstSeq = Number(name.slice(0, 20));
    const seg: Segment = { name, firstSeq, lastSeq: firstSeq - 1, size: 0 };
    const data = readFileSync(path);
    const entries: Entry[] = [];
    parseEntries(data, 0, entries);
    // a commit is its entries and then a checkpoint: what follows the last checkpoint is a
    // commit cut short by a crash, and goes (its records were never sent, and a replayable
    // source reads them again from the checkpoint's position)
    let good = 0;
    let seqs = seg.lastSeq;
    let records = 0;
    for (const e of entries) {
      if (e.type === T_CHECK) {
        takeCheckpoint(e, positions);
        seg.lastSeq = seqs;
        out.records += records;
        records = 0;
        good = e.end;
      } else {
        seqs = entrySeq(e);
        if (isRecordEntry(e)) records++;
      }
    }
    seg.size = good;
    if (good < data.length) {
      const fd = openSync(path, "r+");
      try {
        ftruncateSync(fd, good);
        fdatasyncSync(fd);
      } finally {
        closeSync(fd);
      }
      cut = true;
    }
    if (seg.size === 0) {
      await unlink(path);
      continue;
    }
    out.segments.push(seg);
    out.bytes += seg.size;
  }
  await fsyncDir(dir);
  return out;
}

function takeCheckpoint(e: Entry, positions: Record<string, unknown>): void {
  let doc: unknown;
  try {
    doc = JSON.parse(e.body.toString("utf8"));
  } catch {
    return; // a checkpoint that passed its CRC is well formed; ignore one that is not
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return;
  // defined, not assigned: a source named "__proto__" must not replace the object's prototype
  for (const [source, position] of Object.entries(doc))
    Object.defineProperty(positions, source, {
      value: position,
      enumerable: true,
      writable: true,
      configurable: true,
    });
}
